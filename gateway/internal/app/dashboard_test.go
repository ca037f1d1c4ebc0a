package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDashboardThroughEnvoy checks the catch-all route: the dashboard's
// files and client-side routes come through Envoy from the control plane,
// while API paths, non-browser clients and the control plane's own
// /metrics keep the API's ROUTE_NOT_FOUND.
func TestDashboardThroughEnvoy(t *testing.T) {
	reg := &fakeRegistry{name: "a"}
	reg.start(t, "127.0.0.1:0")
	t.Cleanup(reg.stop)
	dist := t.TempDir()
	for name, content := range map[string]string{
		"index.html":           "<!doctype html><title>AgentIdP dashboard</title>",
		"assets/app-1a2b3c.js": "console.log(1)",
	} {
		p := filepath.Join(dist, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := startStackEnv(t, map[string]string{"DASHBOARD_DIR": dist}, reg.Addr())
	const html = "text/html,application/xhtml+xml,*/*;q=0.8"

	tests := []struct {
		name, path, accept string
		status             int
		body               string
		header             [2]string
	}{
		{name: "root", path: "/", status: 200, body: "AgentIdP dashboard", header: [2]string{"Cache-Control", "no-cache"}},
		{name: "client route", path: "/agents/abc", accept: html, status: 200, body: "AgentIdP dashboard"},
		{name: "asset", path: "/assets/app-1a2b3c.js", status: 200, body: "console.log",
			header: [2]string{"Cache-Control", "public, max-age=31536000, immutable"}},
		{name: "API keeps its routes", path: "/v1/agents/abc", accept: html, status: 200, body: `"agentId":"abc"`},
		{name: "API sibling path", path: "/v1/agentsx", accept: html, status: 404, body: "ROUTE_NOT_FOUND"},
		{name: "non-browser unknown path", path: "/nope", status: 404, body: "ROUTE_NOT_FOUND"},
		{name: "control plane metrics stay private", path: "/metrics", status: 404, body: "ROUTE_NOT_FOUND"},
		{name: "readyz still from the control plane", path: "/readyz", status: 200, body: `"status":"ready"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.accept != "" {
				hdr = []string{"Accept", tt.accept}
			}
			resp := s.do("GET", tt.path, "", hdr...)
			if resp.status != tt.status || !strings.Contains(resp.body, tt.body) {
				t.Fatalf("GET %s = %d %q, want %d with %q", tt.path, resp.status, resp.body, tt.status, tt.body)
			}
			if tt.header[0] != "" && resp.header.Get(tt.header[0]) != tt.header[1] {
				t.Errorf("%s = %q, want %q", tt.header[0], resp.header.Get(tt.header[0]), tt.header[1])
			}
			if tt.status == 404 {
				checkError(t, resp, 5, "ROUTE_NOT_FOUND")
			}
			if tt.status == 200 && strings.Contains(tt.body, "dashboard") &&
				!strings.Contains(resp.header.Get("Content-Security-Policy"), "default-src 'self'") {
				t.Errorf("no CSP: %v", resp.header)
			}
		})
	}
}
