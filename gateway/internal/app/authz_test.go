package app_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/testkit"
)

// TestGatewayAuthz checks the ext_authz wiring through the real Envoy:
// which routes ask the authz service, what Envoy tells it (the normalised
// REST request, the body), that its answers are applied as they are, that
// identity headers reach a service only from it, and that an unreachable
// or slow authz service refuses the request.
func TestGatewayAuthz(t *testing.T) {
	testkit.SkipIfShort(t)
	reg := &fakeRegistry{name: "a"}
	reg.start(t, "127.0.0.1:0")
	t.Cleanup(reg.stop)
	s := startStack(t, reg.Addr())
	// A plain HTTP upstream behind the token routes, recording headers.
	var mu sync.Mutex
	var tokenHeaders http.Header
	tok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tokenHeaders = r.Header.Clone()
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	}))
	t.Cleanup(tok.Close)
	s.writeServices(map[string][]string{"registry": {reg.Addr()}, "token": {tok.Listener.Addr().String()}})
	eventually(t, 10*time.Second, func() error {
		if r := s.do("GET", "/.well-known/jwks.json", ""); r.status != 200 {
			return fmt.Errorf("token routes not up: %d", r.status)
		}
		return nil
	})

	t.Run("no token: the authz service's answer reaches the client as it is", func(t *testing.T) {
		calls := reg.calls.Load()
		r := s.do("GET", "/v1/agents/abc", "", "Authorization", "")
		if r.status != 401 || r.header.Get("Www-Authenticate") != `Bearer realm="agentidp"` {
			t.Fatalf("%d %v %s", r.status, r.header, r.body)
		}
		checkError(t, r, 16, "UNAUTHENTICATED")
		if reg.calls.Load() != calls {
			t.Fatal("the registry was called for a denied request")
		}
	})

	t.Run("identity headers come from the authz service only", func(t *testing.T) {
		r := s.do("GET", "/v1/agents/abc", "", "Authorization", "Bearer ok:agent-7",
			"X-Agent-Id", "spoofed", "X-Agent-Scopes", "everything", "X-Request-Id", "client-chosen")
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		md := *reg.md.Load()
		if got := md.Get("x-agent-id"); len(got) != 1 || got[0] != "agent-7" {
			t.Fatalf("registry saw x-agent-id %v", got)
		}
		if got := md.Get("x-agent-scopes"); len(got) != 1 || got[0] != "agents:read" {
			t.Fatalf("registry saw x-agent-scopes %v", got)
		}
		if id := s.authz.lastRequest().GetHeaders()["x-request-id"]; id == "" || id == "client-chosen" {
			t.Fatalf("authz saw x-request-id %q; Envoy should issue its own", id)
		}
		if got := md.Get("x-request-id"); len(got) != 1 || got[0] == "client-chosen" {
			t.Fatalf("registry saw x-request-id %v", got)
		}
		if _, ok := s.authz.lastRequest().GetHeaders()["x-agent-id"]; ok {
			t.Fatal("the client's x-agent-id reached the authz service")
		}
	})

	t.Run("public routes never ask the authz service", func(t *testing.T) {
		calls := s.authz.calls.Load()
		for _, p := range []string{"/healthz", "/readyz", "/.well-known/jwks.json", "/oauth2/token"} {
			s.do("GET", p, "", "Authorization", "", "X-Agent-Id", "spoofed")
		}
		if n := s.authz.calls.Load() - calls; n != 0 {
			t.Fatalf("%d checks for public routes", n)
		}
		mu.Lock()
		defer mu.Unlock()
		if v := tokenHeaders.Get("X-Agent-Id"); v != "" {
			t.Fatalf("a client's x-agent-id reached the token service: %q", v)
		}
	})

	t.Run("the request body goes to the authz service; beyond 64 KiB it is refused", func(t *testing.T) {
		body := `{"name":"bot","scopes":["agents:read"]}`
		if r := s.do("POST", "/v1/agents", body); r.status != 201 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		last := s.authz.lastRequest()
		if string(last.GetRawBody()) != body || last.GetMethod() != "POST" || last.GetPath() != "/v1/agents" {
			t.Fatalf("authz saw %s %s %q", last.GetMethod(), last.GetPath(), last.GetRawBody())
		}
		big := `{"name":"` + strings.Repeat("x", 70<<10) + `"}`
		r := s.do("POST", "/v1/agents", big)
		if r.status != 413 {
			t.Fatalf("a body over the ext_authz limit: %d %s", r.status, r.body)
		}
		checkError(t, r, 8, "REQUEST_TOO_LARGE")
	})

	t.Run("Envoy normalises the path before the authz service sees it", func(t *testing.T) {
		tests := []struct{ path, seen string }{
			{"//v1/agents//abc", "/v1/agents/abc"},
			{"/v1/audit/../agents/abc", "/v1/agents/abc"},
			{"/v1/audit/%2e%2e/agents/abc", "/v1/agents/abc"},
			{"/v1/agents/./abc", "/v1/agents/abc"},
			{"/v1/agents/%61bc", "/v1/agents/abc"},
		}
		for _, tt := range tests {
			if r := s.do("GET", tt.path, ""); r.status != 200 {
				t.Errorf("%s: %d %s", tt.path, r.status, r.body)
				continue
			}
			if got := s.authz.lastRequest().GetPath(); got != tt.seen {
				t.Errorf("%s: authz saw %q, want %q", tt.path, got, tt.seen)
			}
		}
		// An escaped slash is refused before anything else sees it.
		calls := s.authz.calls.Load()
		r := s.do("GET", "/v1/agents%2Fabc", "")
		if r.status != 400 || s.authz.calls.Load() != calls {
			t.Fatalf("escaped slash: %d (authz asked %d times)", r.status, s.authz.calls.Load()-calls)
		}
	})

	t.Run("a path no API route claims reaches no service", func(t *testing.T) {
		calls := reg.calls.Load()
		for _, p := range []string{"/V1/AGENTS/abc", "/v1/Agents", "/v1/agentsx"} {
			if r := s.do("GET", p, ""); r.status != 404 {
				t.Errorf("%s: %d %s", p, r.status, r.body)
			}
		}
		if reg.calls.Load() != calls {
			t.Fatal("the registry was called")
		}
	})

	t.Run("a slow authz service: 503, not an open door", func(t *testing.T) {
		s.authz.delay.Store(int64(1500 * time.Millisecond))
		defer s.authz.delay.Store(0)
		r := s.do("GET", "/v1/agents/abc", "")
		if r.status != 503 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		checkError(t, r, 14, "SERVICE_UNAVAILABLE")
	})

	t.Run("no authz service: 503 on protected routes, public ones still work", func(t *testing.T) {
		s.authz.stop()
		eventually(t, 10*time.Second, func() error {
			r := s.do("GET", "/v1/agents/abc", "")
			if r.status != 503 {
				return fmt.Errorf("status %d", r.status)
			}
			checkError(t, r, 14, "SERVICE_UNAVAILABLE")
			return nil
		})
		if r := s.do("GET", "/.well-known/jwks.json", ""); r.status != 200 {
			t.Fatalf("public route: %d", r.status)
		}
	})
}
