package httpload_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/httpload"
)

func TestDo(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/length":
			body, _ := io.ReadAll(r.Body)
			io.WriteString(w, r.Method+" "+r.URL.RawQuery+" "+r.Header.Get("Authorization")+" "+string(body))
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, strings.Repeat("a", 100))
			w.(http.Flusher).Flush()
			io.WriteString(w, strings.Repeat("b", 5000))
			w.Header().Set("X-Sum", "ok")
		case "/close":
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, "bye")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	c := httpload.NewConn(strings.TrimPrefix(srv.URL, "http://"), 5*time.Second)
	defer c.Close()
	req := func(method, path string, body []byte) httpload.Request {
		h := http.Header{"Authorization": {"Basic x"}}
		r, err := httpload.Prepare(method, srv.URL+path, h, body)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	expect := func(r httpload.Request, wantStatus int, wantBody string) {
		t.Helper()
		status, body, err := c.Do(r)
		if err != nil || status != wantStatus || string(body) != wantBody {
			t.Fatalf("Do = %d %q %v, want %d %q", status, body, err, wantStatus, wantBody)
		}
	}
	post := req("POST", "/length?a=1", []byte("grant_type=client_credentials"))
	const echo = "POST a=1 Basic x grant_type=client_credentials"
	for range 3 {
		expect(post, 200, echo)
	}
	expect(req("GET", "/chunked", nil), 200, strings.Repeat("a", 100)+strings.Repeat("b", 5000))
	expect(req("DELETE", "/empty", nil), 204, "")
	expect(post, 200, echo)
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for keep-alive requests, want 1", n)
	}
	expect(req("GET", "/close", nil), http.StatusTeapot, "bye")
	expect(post, 200, echo)
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections after Connection: close, want 2", n)
	}
	// The server drops idle connections: the next request redials.
	srv.CloseClientConnections()
	expect(post, 200, echo)

	if _, err := httpload.Prepare("GET", "https://example.com/", nil, nil); err == nil {
		t.Fatal("https:// accepted")
	}
	dead := httpload.NewConn("127.0.0.1:1", time.Second)
	if _, _, err := dead.Do(post); err == nil {
		t.Fatal("no error from a refused connection")
	}
}
