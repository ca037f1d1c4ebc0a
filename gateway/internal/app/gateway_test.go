package app_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/testkit"
)

// rpcStatus is the google.rpc.Status JSON every /v1 error has.
type rpcStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type     string            `json:"@type"`
		Reason   string            `json:"reason"`
		Domain   string            `json:"domain"`
		Metadata map[string]string `json:"metadata"`
	} `json:"details"`
}

// checkError asserts that resp is an AgentIdP error with the given gRPC
// code and ErrorInfo reason, and returns its message.
func checkError(t *testing.T, resp response, code int, reason string) string {
	t.Helper()
	if ct := resp.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json; body %s", ct, resp.body)
	}
	var st rpcStatus
	if err := json.Unmarshal([]byte(resp.body), &st); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, resp.body)
	}
	if st.Code != code {
		t.Errorf("code = %d, want %d; body %s", st.Code, code, resp.body)
	}
	if len(st.Details) == 0 {
		t.Fatalf("no details: %s", resp.body)
	}
	d := st.Details[0]
	if d.Type != "type.googleapis.com/google.rpc.ErrorInfo" || d.Domain != "agentidp.dev" || d.Reason != reason {
		t.Errorf("detail = %+v, want ErrorInfo %s in agentidp.dev; body %s", d, reason, resp.body)
	}
	if st.Message == "" {
		t.Errorf("empty message: %s", resp.body)
	}
	return st.Message
}

func TestGatewayAPI(t *testing.T) {
	testkit.SkipIfShort(t)
	reg := &fakeRegistry{name: "a"}
	reg.start(t, "127.0.0.1:0")
	t.Cleanup(reg.stop)
	s := startStack(t, reg.Addr())

	tests := []struct {
		name, method, path, body string
		header                   []string // name, value pairs
		status                   int
		// For errors: the gRPC code and ErrorInfo reason.
		code    int
		reason  string
		message string // a substring of the message
		check   func(t *testing.T, body map[string]any)
	}{
		{
			name: "create answers 201 with the resource in camelCase", method: "POST", path: "/v1/agents",
			body: `{"name":"bot","agentType":"assistant"}`, status: 201,
			check: func(t *testing.T, b map[string]any) {
				if b["agentId"] == "" || b["agentType"] != "assistant" || b["createdAt"] != "2026-01-02T03:04:05Z" {
					t.Errorf("agent = %v", b)
				}
				if _, ok := b["agent_type"]; ok {
					t.Errorf("snake_case field in %v", b)
				}
				if _, ok := b["version"]; !ok {
					t.Errorf("empty primitive field omitted: %v", b)
				}
			},
		},
		{
			name: "get", method: "GET", path: "/v1/agents/abc", status: 200,
			check: func(t *testing.T, b map[string]any) {
				if b["agentId"] != "abc" || b["deploymentEnv"] != "production" {
					t.Errorf("agent = %v", b)
				}
			},
		},
		{
			name: "list", method: "GET", path: "/v1/agents?pageSize=10", status: 200,
			check: func(t *testing.T, b map[string]any) {
				if _, ok := b["agents"]; !ok {
					t.Errorf("list = %v", b)
				}
			},
		},
		{
			name: "service error keeps its reason", method: "GET", path: "/v1/agents/missing",
			status: 404, code: 5, reason: "AGENT_NOT_FOUND", message: "agent missing not found",
		},
		{
			name: "malformed JSON body", method: "POST", path: "/v1/agents", body: `{"name":`,
			status: 400, code: 3, reason: "MALFORMED_REQUEST",
		},
		{
			name: "JSON body of the wrong shape", method: "POST", path: "/v1/agents", body: `[1,2]`,
			status: 400, code: 3, reason: "MALFORMED_REQUEST",
		},
		{
			name: "unknown query parameter", method: "GET", path: "/v1/agents?bogus=1",
			status: 400, code: 3, reason: "UNKNOWN_QUERY_PARAMETER", message: `"bogus"`,
		},
		{
			name: "unknown query parameter with a body", method: "POST", path: "/v1/agents?bogus=1", body: `{"name":"x"}`,
			status: 400, code: 3, reason: "UNKNOWN_QUERY_PARAMETER", message: `"bogus"`,
		},
		{
			name: "bad query parameter value", method: "GET", path: "/v1/agents?pageSize=abc",
			status: 400, code: 3, reason: "MALFORMED_REQUEST", message: "abc",
		},
		{
			name: "escaped slash in the path", method: "GET", path: "/v1/agents/a%2Fb",
			status: 400, code: 3, reason: "MALFORMED_REQUEST",
		},
		{
			name: "header with an underscore", method: "GET", path: "/v1/agents/abc", header: []string{"x_user", "a"},
			status: 400, code: 3, reason: "MALFORMED_REQUEST",
		},
		{
			name: "unknown path", method: "GET", path: "/nope",
			status: 404, code: 5, reason: "ROUTE_NOT_FOUND",
		},
		{
			name: "sibling of a service path", method: "GET", path: "/v1/agentsx",
			status: 404, code: 5, reason: "ROUTE_NOT_FOUND",
		},
		{
			name: "method the service does not map", method: "PUT", path: "/v1/agents/abc", body: `{}`,
			status: 404, code: 5, reason: "ROUTE_NOT_FOUND",
		},
		{
			name: "body over 1 MiB", method: "POST", path: "/v1/agents",
			body:   `{"name":"` + strings.Repeat("x", 1<<20) + `"}`,
			status: 413, code: 8, reason: "REQUEST_TOO_LARGE",
		},
		{
			name: "upstream timeout", method: "GET", path: "/v1/agents/slow",
			status: 504, code: 4, reason: "UPSTREAM_TIMEOUT",
		},
		{
			name: "healthz is answered by Envoy", method: "GET", path: "/healthz", status: 200,
			check: func(t *testing.T, b map[string]any) {
				if b["status"] != "ok" {
					t.Errorf("healthz = %v", b)
				}
			},
		},
		{
			name: "readyz comes from the control plane", method: "GET", path: "/readyz", status: 200,
			check: func(t *testing.T, b map[string]any) {
				want := fmt.Sprintf(`map[authz:map[endpoints:map[%s:SERVING] status:SERVING] registry:map[endpoints:map[%s:SERVING] status:SERVING]]`,
					s.authz.Addr(), reg.Addr())
				if b["status"] != "ready" || fmt.Sprint(b["services"]) != want {
					t.Errorf("readyz = %v", b)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := s.do(tt.method, tt.path, tt.body, tt.header...)
			if resp.status != tt.status {
				t.Fatalf("%s %s = %d, want %d: %s", tt.method, tt.path, resp.status, tt.status, resp.body)
			}
			for _, h := range []string{"Grpc-Status", "Grpc-Message", "X-Http-Status-Code"} {
				if v := resp.header.Values(h); len(v) > 0 {
					t.Errorf("REST response carries %s: %v", h, v)
				}
			}
			if tt.reason != "" {
				msg := checkError(t, resp, tt.code, tt.reason)
				if !strings.Contains(msg, tt.message) {
					t.Errorf("message %q does not contain %q", msg, tt.message)
				}
				return
			}
			if ct := resp.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(resp.body), &body); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, resp.body)
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
}

// TestGatewayLifecycle changes the world under a running Envoy: a service
// dies and comes back, gains an endpoint, and the config file is broken.
// Envoy is never restarted.
func TestGatewayLifecycle(t *testing.T) {
	testkit.SkipIfShort(t)
	a := &fakeRegistry{name: "a"}
	a.start(t, "127.0.0.1:0")
	t.Cleanup(a.stop)
	s := startStack(t, a.Addr())

	if r := s.do("GET", "/v1/agents/x", ""); r.status != 200 {
		t.Fatalf("GET = %d: %s", r.status, r.body)
	}

	t.Run("a dead service is a fast 503", func(t *testing.T) {
		a.stop()
		start := time.Now()
		r := s.do("GET", "/v1/agents/x", "")
		elapsed := time.Since(start)
		if r.status != 503 {
			t.Fatalf("GET = %d: %s", r.status, r.body)
		}
		checkError(t, r, 14, "SERVICE_UNAVAILABLE")
		if elapsed > 500*time.Millisecond {
			t.Errorf("503 took %s", elapsed)
		}
		r = s.do("GET", "/readyz", "")
		if r.status != 503 || !strings.Contains(r.body, `"not_ready"`) || !strings.Contains(r.body, "UNREACHABLE") {
			t.Errorf("readyz = %d %s", r.status, r.body)
		}
	})

	t.Run("a restarted service is used again", func(t *testing.T) {
		a.start(t, a.Addr())
		eventually(t, 5*time.Second, func() error {
			if r := s.do("GET", "/v1/agents/x", ""); r.status != 200 {
				return fmt.Errorf("GET = %d: %s", r.status, r.body)
			}
			return nil
		})
	})

	t.Run("a new endpoint takes traffic, pushed over EDS alone", func(t *testing.T) {
		b := &fakeRegistry{name: "b"}
		b.start(t, "127.0.0.1:0")
		t.Cleanup(b.stop)
		cds := s.envoyStat("cluster_manager.cds.update_success")
		lds := s.envoyStat("listener_manager.lds.update_success")

		s.writeConfig(a.Addr(), b.Addr())
		eventually(t, 10*time.Second, func() error {
			a0, b0 := a.calls.Load(), b.calls.Load()
			for range 10 {
				s.do("GET", "/v1/agents/x", "")
			}
			if a.calls.Load() == a0 || b.calls.Load() == b0 {
				return fmt.Errorf("10 calls: a got %d, b got %d", a.calls.Load()-a0, b.calls.Load()-b0)
			}
			return nil
		})
		// Both healthy now: round robin alternates.
		a0, b0 := a.calls.Load(), b.calls.Load()
		for range 20 {
			if r := s.do("GET", "/v1/agents/x", ""); r.status != 200 {
				t.Fatalf("GET = %d: %s", r.status, r.body)
			}
		}
		if da, db := a.calls.Load()-a0, b.calls.Load()-b0; da < 8 || db < 8 {
			t.Errorf("20 calls split %d/%d, want about even", da, db)
		}
		if got := s.envoyStat("cluster_manager.cds.update_success"); got != cds {
			t.Errorf("CDS updated (%s -> %s) for an endpoint change", cds, got)
		}
		if got := s.envoyStat("listener_manager.lds.update_success"); got != lds {
			t.Errorf("LDS updated (%s -> %s) for an endpoint change", lds, got)
		}
	})

	t.Run("an invalid edit changes nothing", func(t *testing.T) {
		if err := writeFile(s.configPath, "services: {nope: {endpoints: []}}\n"); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, func() error {
			m := s.get("GET", "http://"+s.httpAddr+"/metrics", "")
			if !strings.Contains(m.body, "agentidp_gateway_config_rejected_total 1") {
				return fmt.Errorf("rejection not counted yet")
			}
			return nil
		})
		if r := s.do("GET", "/v1/agents/x", ""); r.status != 200 {
			t.Fatalf("GET after invalid edit = %d: %s", r.status, r.body)
		}
	})

	select {
	case <-s.envoy.Done():
		t.Fatal("envoy exited")
	default:
	}
}

// eventually retries f until it succeeds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
