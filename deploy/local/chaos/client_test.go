package chaos

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// clientTimeout bounds every request of the suite. The mesh answers within
// about 6 s whatever is down (the gateway's upstream timeout is 5 s, its
// ext_authz timeout 1 s); a request still unanswered after 10 s has hung,
// even on this shared machine, whose other work sometimes starves the mesh
// of CPU for seconds.
const clientTimeout = 10 * time.Second

// api sends requests to the gateway, and nowhere else.
type api struct {
	base string
	hc   *http.Client
}

func newAPI(base string) *api {
	tr := &http.Transport{
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
	}
	return &api{base: base, hc: &http.Client{Timeout: clientTimeout, Transport: tr}}
}

// reply is one request's outcome: an HTTP answer, or a transport error.
type reply struct {
	status int
	header http.Header
	body   []byte
	err    error
	took   time.Duration
}

func (r reply) ok() bool { return r.err == nil && r.status >= 200 && r.status < 300 }

func (r reply) String() string {
	if r.err != nil {
		return r.err.Error()
	}
	b := r.body
	if len(b) > 300 {
		b = b[:300]
	}
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(b))
}

// json decodes a 2xx body into out.
func (r reply) json(out any) error {
	if !r.ok() {
		return fmt.Errorf("not a success: %s", r)
	}
	return json.Unmarshal(r.body, out)
}

func (a *api) do(method, path, token string, body any) reply {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{err: err}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return reply{err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return a.send(req)
}

// token asks POST /oauth2/token for a client_credentials token
// (client_secret_basic).
func (a *api) token(clientID, secret string) (string, reply) {
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequest("POST", a.base+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", reply{err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	r := a.send(req)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if r.ok() {
		if err := json.Unmarshal(r.body, &tok); err != nil || tok.AccessToken == "" {
			r.err = fmt.Errorf("token response without a token: %s", r.body)
		}
	}
	return tok.AccessToken, r
}

func (a *api) send(req *http.Request) reply {
	start := time.Now()
	resp, err := a.hc.Do(req)
	if err != nil {
		return reply{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b, err: err, took: time.Since(start)}
}

// transportKind names a request that got no HTTP answer.
func transportKind(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.EPIPE):
		return "reset"
	}
	return "other"
}

// A Go panic or stack trace must never reach a client.
var stackTrace = regexp.MustCompile(`(?i)panic|goroutine \d+|runtime\.|\.go:\d+`)

// problem says what is wrong with an answer that is not a success, or ""
// when it is an error the API documents: a 503 (or a 429) with Retry-After,
// in the route's error shape (RFC 6749 §5.2 on /oauth2/*, google.rpc.Status
// with an ErrorInfo reason on /v1/*). Every request the suite sends is
// valid and authorised, so any other status — a 500, a 504, a 401 for a
// valid token or secret — is a defect.
func problem(path string, r reply) string {
	if r.err != nil {
		return ""
	}
	if r.status < 300 {
		// A success's body is the resource or a token, whose random
		// base64url may spell "panic" (about once in 30 runs of this
		// suite's 1,700 tokens); a recovered panic is never a 2xx.
		return ""
	}
	if stackTrace.Match(r.body) {
		return "a stack trace or panic in the body"
	}
	switch r.status {
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		if !retryAfterPresent(r.header) {
			return fmt.Sprintf("%d without Retry-After", r.status)
		}
	default:
		return fmt.Sprintf("status %d", r.status)
	}
	if strings.HasPrefix(path, "/oauth2/") {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(r.body, &e) != nil || e.Error == "" {
			return "not an RFC 6749 error body"
		}
		return ""
	}
	if errorReason(r.body) == "" {
		return "not a google.rpc.Status body with an ErrorInfo reason"
	}
	return ""
}

// errorReason is the ErrorInfo reason of a google.rpc.Status body, or the
// OAuth error code.
func errorReason(body []byte) string {
	var s struct {
		Error   string `json:"error"`
		Details []struct {
			Type   string `json:"@type"`
			Reason string `json:"reason"`
		} `json:"details"`
	}
	if json.Unmarshal(body, &s) != nil {
		return ""
	}
	for _, d := range s.Details {
		if d.Type == "type.googleapis.com/google.rpc.ErrorInfo" {
			return d.Reason
		}
	}
	return s.Error
}

// jti reads the jti claim of a JWT without verifying it (the suite only
// needs the id to find the token's audit event).
func jti(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		JTI string `json:"jti"`
	}
	_ = json.Unmarshal(b, &c)
	return c.JTI
}
