// Package httpload is the HTTP/1.1 client of AgentIdP's load generators
// (the token, gateway and soak benchmarks): one keep-alive connection per
// worker, each request written from bytes prepared once, each response read
// by a small parser into a reused buffer.
//
// Why not net/http's client: on this project's 2-core benchmark machine it
// costs about as much CPU per request as some of the servers it measures
// (docs/benchmarks.md), and the load generator shares their cores. A lean client (the
// approach of wrk and similar tools) leaves the CPU to the system under
// test, so the figures say more about it.
package httpload

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"
)

// Request is a prepared request: its target address and wire bytes.
type Request struct {
	Addr string // host:port
	wire []byte
}

// Prepare renders an HTTP/1.1 request once. rawURL must be http://; body
// may be nil. Host, Content-Length and User-Agent are set here.
func Prepare(method, rawURL string, header http.Header, body []byte) (Request, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Request{}, err
	}
	if u.Scheme != "http" || u.Host == "" {
		return Request{}, fmt.Errorf("httpload: %q is not an http:// URL", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: agentidp-httpload\r\n", method, u.RequestURI(), u.Host)
	if body != nil || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	if err := header.Write(&b); err != nil {
		return Request{}, err
	}
	b.WriteString("\r\n")
	b.Write(body)
	return Request{Addr: addr, wire: b.Bytes()}, nil
}

// Conn is one keep-alive connection; not safe for concurrent use.
type Conn struct {
	addr    string
	timeout time.Duration
	c       net.Conn
	r       *bufio.Reader
	body    []byte
}

// NewConn returns a connection to addr, dialled on first use; every
// request and its response must complete within timeout.
func NewConn(addr string, timeout time.Duration) *Conn {
	return &Conn{addr: addr, timeout: timeout}
}

// Close closes the connection.
func (c *Conn) Close() error {
	if c.c == nil {
		return nil
	}
	err := c.c.Close()
	c.c, c.r = nil, nil
	return err
}

// Do sends req and returns the response's status and body. The body is
// valid until the next Do. A keep-alive connection the server closed
// before this request is redialled once.
func (c *Conn) Do(req Request) (int, []byte, error) {
	reused := c.c != nil
	status, body, err := c.do(req)
	if err != nil && reused && errors.Is(err, errStale) {
		c.Close()
		status, body, err = c.do(req)
	}
	if err != nil {
		c.Close()
	}
	return status, body, err
}

// errStale: the connection was closed before anything of the response came.
var errStale = errors.New("httpload: connection closed by the server")

func (c *Conn) do(req Request) (int, []byte, error) {
	if c.c == nil {
		conn, err := net.DialTimeout("tcp", c.addr, c.timeout)
		if err != nil {
			return 0, nil, err
		}
		c.c, c.r = conn, bufio.NewReaderSize(conn, 16<<10)
	}
	if err := c.c.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, nil, err
	}
	if _, err := c.c.Write(req.wire); err != nil {
		return 0, nil, errors.Join(errStale, err)
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		if len(line) == 0 && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)) {
			return 0, nil, errors.Join(errStale, err)
		}
		return 0, nil, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, nil, fmt.Errorf("httpload: malformed status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("httpload: malformed status line %q", line)
	}
	length, chunked, closing := -1, false, false
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, nil, fmt.Errorf("httpload: malformed header %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return 0, nil, fmt.Errorf("httpload: bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
	c.body = c.body[:0]
	switch {
	case status == http.StatusNoContent || status == http.StatusNotModified || bytes.HasPrefix(req.wire, []byte("HEAD ")):
	case chunked:
		b := bytes.NewBuffer(c.body)
		if _, err := b.ReadFrom(httputil.NewChunkedReader(c.r)); err != nil {
			return 0, nil, err
		}
		for { // trailers, up to the empty line
			line, err := c.r.ReadSlice('\n')
			if err != nil {
				return 0, nil, err
			}
			if len(bytes.TrimRight(line, "\r\n")) == 0 {
				break
			}
		}
		c.body = b.Bytes()
	case length >= 0:
		if cap(c.body) < length {
			c.body = make([]byte, length)
		}
		c.body = c.body[:length]
		if _, err := io.ReadFull(c.r, c.body); err != nil {
			return 0, nil, err
		}
	default: // until the server closes
		b := bytes.NewBuffer(c.body)
		if _, err := b.ReadFrom(c.r); err != nil {
			return 0, nil, err
		}
		c.body, closing = b.Bytes(), true
	}
	if closing {
		c.Close() // the body stays: Close only drops the connection
	}
	return status, c.body, nil
}
