package idp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"
)

// maxBody bounds a response body (a page of 1,000 audit events is ~1 MB).
const maxBody = 32 << 20

// authKind is how a request authenticates.
type authKind int

const (
	authBearer authKind = iota // the client's access token (every /v1 call)
	authBasic                  // client_secret_basic (token endpoint, revocation)
)

// call is one API operation.
type call struct {
	method string
	path   string // already escaped
	query  url.Values
	json   any        // JSON body
	form   url.Values // form body (/oauth2)
	auth   authKind
	// retry says the call may be repeated after 429/503: reads, idempotent
	// writes, and creates carrying a requestId.
	retry bool
	out   any // decoded from a 2xx body, if not nil
}

func userAgent(prefix string) string {
	ua := fmt.Sprintf("agentidp-sdk-go/%s (%s; %s/%s)", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if prefix != "" {
		ua = prefix + " " + ua
	}
	return ua
}

// do sends a call, retrying as allowed, and decodes its answer.
func (c *Client) do(ctx context.Context, k call) error {
	refreshed := false
	for attempt := 0; ; attempt++ {
		var bearer Secret
		if k.auth == authBearer {
			t, err := c.tokens.Token(ctx)
			if err != nil {
				return err
			}
			bearer = t
		}
		status, header, body, err := c.send(ctx, k, bearer)
		if err != nil {
			return err
		}
		if status >= 200 && status < 300 {
			if k.out == nil || len(bytes.TrimSpace(body)) == 0 {
				return nil
			}
			if err := json.Unmarshal(body, k.out); err != nil {
				return &AgentIdPError{Code: "INTERNAL", HTTPStatus: status, RequestID: header.Get("X-Request-Id"),
					Message: "the response is not the JSON this SDK expects: " + err.Error()}
			}
			return nil
		}
		apiErr := parseError(status, header, body)
		// A token the gateway no longer accepts (revoked, expired early):
		// the request was refused before it reached a service, so one retry
		// with a new token is always safe.
		if status == http.StatusUnauthorized && k.auth == authBearer && !refreshed && tokenRejected(header, apiErr) {
			refreshed = true
			c.tokens.invalidate(bearer)
			attempt-- // not a retry of the 429/503 kind
			continue
		}
		if !k.retry || attempt >= c.maxRetries || (status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable) {
			return apiErr
		}
		if apiErr.RetryAfter > c.maxWait {
			return apiErr
		}
		if err := sleep(ctx, c.delay(attempt, apiErr.RetryAfter)); err != nil {
			return apiErr
		}
	}
}

// tokenRejected says a 401 is about the token itself (RFC 6750 §3.1
// invalid_token: expired, revoked, malformed), which a new token may fix;
// other 401s (a suspended agent) are returned as they are.
func tokenRejected(h http.Header, e *AgentIdPError) bool {
	return e.Code == "INVALID_TOKEN" || strings.Contains(h.Get("WWW-Authenticate"), "invalid_token")
}

// delay is exponential backoff with full jitter, but never less than the
// server's Retry-After.
func (c *Client) delay(attempt int, retryAfter time.Duration) time.Duration {
	ceiling := c.backoff << attempt
	if ceiling > c.maxBackoff || ceiling <= 0 {
		ceiling = c.maxBackoff
	}
	d := rand.N(ceiling + 1)
	if retryAfter > 0 {
		// Spread the clients that were told the same second.
		d = retryAfter + rand.N(c.backoff+1)
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// send makes one attempt. A request that got no answer is an *AgentIdPError
// with HTTPStatus 0.
func (c *Client) send(ctx context.Context, k call, bearer Secret) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// k.path is escaped already; the base has no query (New checks).
	u := c.base.String() + k.path
	if len(k.query) > 0 {
		u += "?" + k.query.Encode()
	}
	var body io.Reader
	contentType := ""
	switch {
	case k.json != nil:
		b, err := json.Marshal(k.json)
		if err != nil {
			return 0, nil, nil, invalidArgument("the request cannot be encoded: " + err.Error())
		}
		body, contentType = bytes.NewReader(b), "application/json"
	case k.form != nil:
		body, contentType = strings.NewReader(k.form.Encode()), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(ctx, k.method, u, body)
	if err != nil {
		return 0, nil, nil, invalidArgument("the request cannot be built: " + err.Error())
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	switch k.auth {
	case authBearer:
		req.Header.Set("Authorization", "Bearer "+bearer.Reveal())
	case authBasic:
		// RFC 6749 §2.3.1: both parts form-encoded first.
		req.SetBasicAuth(url.QueryEscape(c.clientID), url.QueryEscape(c.secret.Reveal()))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, nil, transportError(ctx, err)
	}
	return resp.StatusCode, resp.Header, b, nil
}

// transportError describes a request that got no (complete) answer. The
// url.Error's text names the URL, which never carries a secret.
func transportError(ctx context.Context, err error) *AgentIdPError {
	code := "UNAVAILABLE"
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded {
		code = "DEADLINE_EXCEEDED"
	} else if errors.Is(err, context.Canceled) {
		code = "CANCELLED"
	}
	return &AgentIdPError{Code: code, Err: err}
}

// pathOf joins escaped path segments; each must be non-empty.
func pathOf(segments ...string) (string, error) {
	var b strings.Builder
	for i, s := range segments {
		if i%2 == 0 { // literal
			b.WriteString(s)
			continue
		}
		if s == "" {
			return "", invalidArgument("an id in the request path is empty")
		}
		b.WriteString(url.PathEscape(s))
	}
	return b.String(), nil
}
