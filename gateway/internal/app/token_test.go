package app_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/testkit"
)

// fakeToken is an HTTP server with the token service's routes and canned
// answers. It stands in for services/token, which is not what these tests
// are about; Envoy, the thing under test, is real.
type fakeToken struct {
	name     string
	notReady atomic.Bool
	calls    atomic.Int64
	srv      *httptest.Server
}

func startFakeToken(t *testing.T, name string) *fakeToken {
	t.Helper()
	f := &fakeToken{name: name}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.Header().Set("Cache-Control", "no-store")
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="agentidp", charset="UTF-8"`)
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
			return
		}
		fmt.Fprintf(w, `{"access_token":"t-%s","token_type":"Bearer","expires_in":900}`, f.name)
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		fmt.Fprint(w, `{"keys":[]}`)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if f.notReady.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"status":"ready"}`)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeToken) Addr() string { return f.srv.Listener.Addr().String() }

// writeServices replaces the config file with the given services.
func (s *stack) writeServices(services map[string][]string) {
	s.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "listener: {address: 127.0.0.1, port: %d}\nservices:\n", s.listenPort)
	if _, ok := services["authz"]; !ok {
		services["authz"] = []string{s.authz.Addr()}
	}
	for name, eps := range services {
		fmt.Fprintf(&b, "  %s:\n    endpoints:\n", name)
		for _, ep := range eps {
			fmt.Fprintf(&b, "      - %q\n", ep)
		}
	}
	if err := writeFile(s.configPath, b.String()); err != nil {
		s.t.Fatal(err)
	}
}

// TestGatewayToken: the catalog's token row sends /oauth2/ and
// /.well-known/ to the token service's HTTP listener untouched (OAuth
// errors keep their RFC 6749 body and WWW-Authenticate), Envoy health-checks
// it with GET /readyz and stops sending traffic to an endpoint that is not
// ready, and the gateway's /readyz reports it.
func TestGatewayToken(t *testing.T) {
	testkit.SkipIfShort(t)
	reg := &fakeRegistry{name: "r"}
	reg.start(t, "127.0.0.1:0")
	t.Cleanup(reg.stop)
	a, b := startFakeToken(t, "a"), startFakeToken(t, "b")
	s := startStack(t, reg.Addr())
	s.writeServices(map[string][]string{"registry": {reg.Addr()}, "token": {a.Addr(), b.Addr()}})

	eventually(t, 10*time.Second, func() error {
		if r := s.do("POST", "/oauth2/token", "grant_type=client_credentials", "Authorization", "Basic eDp5"); r.status != 200 {
			return fmt.Errorf("POST /oauth2/token = %d: %s", r.status, r.body)
		}
		return nil
	})
	r := s.do("POST", "/oauth2/token", "grant_type=client_credentials")
	if r.status != 401 || r.body != `{"error":"invalid_client","error_description":"client authentication failed"}` {
		t.Fatalf("OAuth error through Envoy = %d %s", r.status, r.body)
	}
	if got := r.header.Get("WWW-Authenticate"); got != `Basic realm="agentidp", charset="UTF-8"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	r = s.do("GET", "/.well-known/jwks.json", "")
	if r.status != 200 || r.body != `{"keys":[]}` || r.header.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("JWKS through Envoy = %d %s %v", r.status, r.body, r.header)
	}
	// Registry routes are unaffected by the new row.
	if r := s.do("GET", "/v1/agents/x", ""); r.status != 200 {
		t.Fatalf("GET /v1/agents/x = %d: %s", r.status, r.body)
	}

	// b stops being ready: Envoy's health check takes it out of rotation.
	b.notReady.Store(true)
	eventually(t, 10*time.Second, func() error {
		b0 := b.calls.Load()
		for range 10 {
			s.do("GET", "/.well-known/jwks.json", "")
		}
		if b.calls.Load() != b0 {
			return fmt.Errorf("b still takes traffic")
		}
		return nil
	})
	r = s.do("GET", "/readyz", "")
	if r.status != 200 || !strings.Contains(r.body, `"token":{"status":"SERVING"`) || !strings.Contains(r.body, "NOT_SERVING") {
		t.Fatalf("readyz = %d %s", r.status, r.body)
	}
	a.notReady.Store(true)
	eventually(t, 5*time.Second, func() error {
		if r := s.do("GET", "/readyz", ""); r.status != 503 || !strings.Contains(r.body, `"token":{"status":"NOT_SERVING"`) {
			return fmt.Errorf("readyz = %d %s", r.status, r.body)
		}
		return nil
	})

	// Token service gone: Envoy's own 503 speaks RFC 6749 on /oauth2/.
	a.srv.Close()
	b.srv.Close()
	eventually(t, 5*time.Second, func() error {
		r := s.do("POST", "/oauth2/token", "grant_type=client_credentials")
		if r.status != 503 || !strings.HasPrefix(r.body, `{"error":"temporarily_unavailable","error_description":`) {
			return fmt.Errorf("POST /oauth2/token with no token service = %d %s", r.status, r.body)
		}
		return nil
	})
}
