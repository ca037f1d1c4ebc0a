package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeServer is a local stand-in for the gateway, for what the live mesh
// cannot show deterministically: how many token requests a burst causes,
// how retries are spaced. Everything else is tested against the real mesh
// (contract_test.go).
type fakeServer struct {
	*httptest.Server
	tokenRequests atomic.Int64
	tokenDelay    time.Duration
	expiresIn     int64
	mu            sync.Mutex
	handlers      map[string]http.HandlerFunc // "METHOD /path" → handler
}

func newFake(t *testing.T) *fakeServer {
	f := &fakeServer{expiresIn: 900, handlers: map[string]http.HandlerFunc{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth2/token" {
			n := f.tokenRequests.Add(1)
			time.Sleep(f.tokenDelay)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":%d}`, n, f.expiresIn)
			return
		}
		f.mu.Lock()
		h := f.handlers[r.Method+" "+r.URL.Path]
		f.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) handle(route string, h http.HandlerFunc) {
	f.mu.Lock()
	f.handlers[route] = h
	f.mu.Unlock()
}

func (f *fakeServer) client(t *testing.T, cfg Config) *Client {
	cfg.BaseURL, cfg.ClientID, cfg.ClientSecret = f.URL, "agent-1", "agentidp_sk_test-secret"
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.backoff = 10 * time.Millisecond
	return c
}

func agentJSON(w http.ResponseWriter, id string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"agentId":%q,"name":"a","status":"active","createdAt":"2026-01-02T03:04:05.123456789Z"}`, id)
}

// The acceptance test of the token manager: 100 concurrent calls that find
// the cached token expired cause exactly one token request, and every call
// uses the new token.
func TestTokenManagerSingleFlight(t *testing.T) {
	f := newFake(t)
	f.tokenDelay = 50 * time.Millisecond
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	c := f.client(t, Config{})
	c.tokens.now = func() time.Time { return time.Unix(0, clock.Load()) }
	var wrongToken atomic.Int64
	f.handle("GET /v1/agents/a1", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-2" {
			wrongToken.Add(1)
		}
		agentJSON(w, "a1")
	})
	ctx := context.Background()
	if _, err := c.tokens.Token(ctx); err != nil { // tok-1, valid for 900 s
		t.Fatal(err)
	}
	// 845 s later the token is within 60 s of its expiry: it must be replaced.
	clock.Add(int64(845 * time.Second))
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Agents.Get(ctx, "a1"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := f.tokenRequests.Load(); n != 2 {
		t.Fatalf("%d token requests, want 2 (the first token and one refresh)", n)
	}
	if n := wrongToken.Load(); n != 0 {
		t.Fatalf("%d calls used a token other than the refreshed one", n)
	}
}

func TestTokenManagerCachesAndClears(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{})
	f.handle("GET /v1/agents/a1", func(w http.ResponseWriter, r *http.Request) { agentJSON(w, "a1") })
	ctx := context.Background()
	for range 3 {
		if _, err := c.Agents.Get(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.tokenRequests.Load(); n != 1 {
		t.Fatalf("%d token requests for 3 calls, want 1", n)
	}
	c.ClearTokenCache()
	if _, err := c.Agents.Get(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if n := f.tokenRequests.Load(); n != 2 {
		t.Fatalf("%d token requests after ClearTokenCache, want 2", n)
	}
}

// A short-lived token is refreshed at half its life, not 60 s early.
func TestTokenManagerShortLifetime(t *testing.T) {
	f := newFake(t)
	f.expiresIn = 30
	now := time.Unix(1000, 0)
	c := f.client(t, Config{})
	c.tokens.now = func() time.Time { return now }
	ctx := context.Background()
	t1, _ := c.tokens.Token(ctx)
	now = now.Add(14 * time.Second)
	if t2, _ := c.tokens.Token(ctx); t2 != t1 {
		t.Fatal("a 30 s token was replaced after 14 s")
	}
	now = now.Add(2 * time.Second)
	if t3, _ := c.tokens.Token(ctx); t3 == t1 {
		t.Fatal("a 30 s token was not replaced after 16 s")
	}
}

// A 401 invalid_token gets one retry with a new token.
func TestRefreshOnInvalidToken(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{})
	f.handle("GET /v1/agents/a1", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer tok-1" {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(401)
			fmt.Fprint(w, `{"code":16,"message":"token revoked","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"INVALID_TOKEN","domain":"agentidp.dev"}]}`)
			return
		}
		agentJSON(w, "a1")
	})
	if _, err := c.Agents.Get(context.Background(), "a1"); err != nil {
		t.Fatal(err)
	}
	if n := f.tokenRequests.Load(); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
}

func TestErrorShapes(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		header     map[string]string
		want       AgentIdPError
	}{
		{name: "google.rpc.Status", status: 404,
			body:   `{"code":5,"message":"agent x not found","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"AGENT_NOT_FOUND","domain":"agentidp.dev","metadata":{}}]}`,
			header: map[string]string{"X-Request-Id": "r1"},
			want:   AgentIdPError{Code: "AGENT_NOT_FOUND", Message: "agent x not found", HTTPStatus: 404, RequestID: "r1"}},
		{name: "Status without ErrorInfo", status: 503, body: `{"code":14,"message":"down"}`,
			want: AgentIdPError{Code: "UNAVAILABLE", Message: "down", HTTPStatus: 503}},
		{name: "RFC 6749", status: 401, body: `{"error":"invalid_client","error_description":"client authentication failed"}`,
			want: AgentIdPError{Code: "invalid_client", Message: "client authentication failed", HTTPStatus: 401}},
		{name: "rate limited", status: 429, body: `{"error":"temporarily_unavailable"}`, header: map[string]string{"Retry-After": "2"},
			want: AgentIdPError{Code: "temporarily_unavailable", Message: "Too Many Requests", HTTPStatus: 429, RetryAfter: 2 * time.Second}},
		{name: "not JSON", status: 502, body: `<html>bad gateway</html>`,
			want: AgentIdPError{Code: "INTERNAL", Message: "Bad Gateway", HTTPStatus: 502}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.header {
				h.Set(k, v)
			}
			got := parseError(tc.status, h, []byte(tc.body))
			if got.Code != tc.want.Code || got.Message != tc.want.Message || got.HTTPStatus != tc.want.HTTPStatus ||
				got.RetryAfter != tc.want.RetryAfter || got.RequestID != tc.want.RequestID {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// 429 and 503 are retried after Retry-After for calls that are safe to
// repeat; a create retried keeps its requestId.
func TestRetries(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{})
	var calls atomic.Int64
	var ids sync.Map
	f.handle("POST /v1/agents", func(w http.ResponseWriter, r *http.Request) {
		ids.Store(r.URL.Query().Get("requestId"), true)
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
			fmt.Fprint(w, `{"code":8,"message":"slow down","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMITED"}]}`)
			return
		}
		w.WriteHeader(201)
		agentJSON(w, "a1")
	})
	start := time.Now()
	if _, err := c.Agents.Register(context.Background(), AgentInput{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("retried after %s, before Retry-After", d)
	}
	n := 0
	ids.Range(func(k, _ any) bool { n++; return k.(string) != "" })
	if calls.Load() != 2 || n != 1 {
		t.Fatalf("%d calls with %d distinct requestIds, want 2 calls with 1", calls.Load(), n)
	}
}

func TestNoRetryForNonIdempotentCalls(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{})
	var calls atomic.Int64
	f.handle("POST /v1/agents/a1/credentials", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(503)
		fmt.Fprint(w, `{"code":14,"message":"unavailable","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"SERVICE_UNAVAILABLE"}]}`)
	})
	_, err := c.Credentials.Generate(context.Background(), "a1", 0)
	var e *AgentIdPError
	if !errors.As(err, &e) || e.Code != "SERVICE_UNAVAILABLE" || e.HTTPStatus != 503 {
		t.Fatalf("got %v", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("a credential create was sent %d times", calls.Load())
	}
}

func TestRetriesGiveUp(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{MaxRetries: 2})
	var calls atomic.Int64
	f.handle("GET /v1/agents/a1", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(503)
	})
	_, err := c.Agents.Get(context.Background(), "a1")
	var e *AgentIdPError
	if !errors.As(err, &e) || e.Code != "UNAVAILABLE" || calls.Load() != 3 {
		t.Fatalf("got %v after %d calls, want UNAVAILABLE after 3", err, calls.Load())
	}
}

func TestTransportErrors(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{Timeout: 50 * time.Millisecond})
	f.handle("GET /v1/agents/slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		agentJSON(w, "slow")
	})
	_, err := c.Agents.Get(context.Background(), "slow")
	var e *AgentIdPError
	if !errors.As(err, &e) || e.Code != "DEADLINE_EXCEEDED" || e.HTTPStatus != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	dead, _ := New(Config{BaseURL: "http://127.0.0.1:1", ClientID: "a", ClientSecret: "s"})
	_, err = dead.Agents.Get(context.Background(), "a1")
	if !errors.As(err, &e) || e.Code != "UNAVAILABLE" {
		t.Fatalf("got %v", err)
	}
}

func TestRequestShape(t *testing.T) {
	f := newFake(t)
	c := f.client(t, Config{UserAgent: "my-app/2"})
	var got *http.Request
	var body map[string]any
	f.handle("PATCH /v1/agents/a 1", func(w http.ResponseWriter, r *http.Request) {
		got = r
		_ = json.NewDecoder(r.Body).Decode(&body)
		agentJSON(w, "a 1")
	})
	_, err := c.Agents.Update(context.Background(), "a 1", AgentUpdate{Description: Ptr(""), Scopes: Ptr([]string{}), Etag: "7"})
	if err != nil {
		t.Fatal(err)
	}
	if ua := got.Header.Get("User-Agent"); !strings.HasPrefix(ua, "my-app/2 agentidp-sdk-go/"+Version) {
		t.Fatalf("User-Agent %q", ua)
	}
	if m := got.URL.Query().Get("updateMask"); m != "description,scopes" {
		t.Fatalf("updateMask %q", m)
	}
	if got.URL.RawPath != "/v1/agents/a%201" && got.URL.EscapedPath() != "/v1/agents/a%201" {
		t.Fatalf("path %q", got.URL.EscapedPath())
	}
	if body["description"] != "" || body["etag"] != "7" || len(body["scopes"].([]any)) != 0 {
		t.Fatalf("body %v", body)
	}
	if _, err := c.Agents.Get(context.Background(), ""); err == nil {
		t.Fatal("an empty id was sent")
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	s := Secret("agentidp_sk_abc")
	issued := IssuedCredential{ClientID: "a", ClientSecret: s}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "secret", s, "issued", issued)
	j, _ := json.Marshal(issued)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %q %x %s", issued, issued, issued, s, s, s), string(j), logged.String()} {
		if strings.Contains(out, "abc") || strings.Contains(out, fmt.Sprintf("%x", "agentidp_sk_abc")) {
			t.Fatalf("secret printed: %s", out)
		}
	}
	if s.Reveal() != "agentidp_sk_abc" {
		t.Fatal("Reveal")
	}
	var back IssuedCredential
	_ = json.Unmarshal([]byte(`{"clientSecret":"agentidp_sk_x"}`), &back)
	if back.ClientSecret.Reveal() != "agentidp_sk_x" {
		t.Fatal("UnmarshalJSON")
	}
}

// TestAuditVerify pins the request (range as query parameters) and the
// reading of the proto3 JSON mapping's string int64s; the live mesh's
// answer is covered by deploy/local/clie2e (agentidp audit verify).
func TestAuditVerify(t *testing.T) {
	f := newFake(t)
	var query string
	f.handle("GET /v1/audit/verify", func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":false,"fromSequence":"3","toSequence":"9","eventsChecked":"5","checkpointsChecked":"2","checkpointedThrough":"8",
			"firstBreak":{"sequence":"7","eventId":"e-7","kind":"hash_mismatch","expected":"aa","actual":"bb"}}`)
	})
	c := f.client(t, Config{})
	v, err := c.Audit.Verify(context.Background(), 3, 9)
	if err != nil {
		t.Fatal(err)
	}
	if query != "fromSequence=3&toSequence=9" {
		t.Errorf("query %q", query)
	}
	want := ChainVerification{FromSequence: 3, ToSequence: 9, EventsChecked: 5, CheckpointsChecked: 2, CheckpointedThrough: 8,
		FirstBreak: &ChainBreak{Sequence: 7, EventID: "e-7", Kind: "hash_mismatch", Expected: "aa", Actual: "bb"}}
	if v.OK || v.FromSequence != want.FromSequence || v.ToSequence != want.ToSequence ||
		v.EventsChecked != want.EventsChecked || v.CheckpointsChecked != 2 || v.CheckpointedThrough != 8 || v.FirstBreak == nil || *v.FirstBreak != *want.FirstBreak {
		t.Errorf("got %+v (break %+v), want %+v", v, v.FirstBreak, want)
	}
	if _, err := c.Audit.Verify(context.Background(), 0, 0); err != nil || query != "" {
		t.Errorf("whole chain: err %v, query %q", err, query)
	}
	var apiErr *AgentIdPError
	if _, err := c.Audit.Verify(context.Background(), 9, 3); !errors.As(err, &apiErr) || apiErr.Code != "INVALID_ARGUMENT" {
		t.Errorf("from > to: %v", err)
	}
}

// TestAuditCheckpoints pins the pages (oldest first, the token passed on)
// and the reading of string int64s.
func TestAuditCheckpoints(t *testing.T) {
	f := newFake(t)
	var queries []string
	f.handle("GET /v1/audit/checkpoints", func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("pageToken") == "" {
			fmt.Fprint(w, `{"checkpoints":[{"sequence":"10","hash":"aa","signedAt":"2026-01-02T03:04:05.000001Z","keyId":"k","algorithm":"ed25519","signature":"c2ln"}],"nextPageToken":"p2"}`)
			return
		}
		fmt.Fprint(w, `{"checkpoints":[{"sequence":"20","hash":"bb","keyId":"k","algorithm":"ed25519","signature":"c2ln"}]}`)
	})
	c := f.client(t, Config{})
	var seqs []int64
	for cp, err := range c.Audit.Checkpoints(context.Background(), 5) {
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, cp.Sequence)
	}
	if fmt.Sprint(seqs) != "[10 20]" || fmt.Sprint(queries) != "[fromSequence=5 fromSequence=5&pageToken=p2]" {
		t.Errorf("sequences %v, queries %v", seqs, queries)
	}
}
