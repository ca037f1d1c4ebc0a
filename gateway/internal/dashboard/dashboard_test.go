package dashboard_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sentryagent/agentidp/gateway/internal/dashboard"
)

func writeDist(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"index.html":             "<!doctype html><title>AgentIdP</title>",
		"favicon.svg":            "<svg/>",
		"assets/index-abc123.js": "console.log('app')",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("console.log('app')"))
	_ = zw.Close()
	if err := os.WriteFile(filepath.Join(dir, "assets/index-abc123.js.gz"), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// Outside the served directory: must never be reachable.
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "secret.txt"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(filepath.Dir(dir), "secret.txt"), filepath.Join(dir, "escape.txt")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestHandler(t *testing.T) {
	h, err := dashboard.New(writeDist(t))
	if err != nil {
		t.Fatal(err)
	}
	const html = "text/html,application/xhtml+xml,*/*;q=0.8"
	tests := []struct {
		name, method, path, accept, encoding string
		status                               int
		body                                 string // substring
		cache                                string
		contentType                          string
		gzip                                 bool
	}{
		{name: "root is index.html", path: "/ui/", status: 200, body: "<title>AgentIdP", cache: "no-cache", contentType: "text/html; charset=utf-8"},
		{name: "index.html by name", path: "/ui/index.html", status: 200, body: "<title>AgentIdP", cache: "no-cache"},
		{name: "hashed asset is immutable", path: "/ui/assets/index-abc123.js", status: 200, body: "console.log",
			cache: "public, max-age=31536000, immutable", contentType: "text/javascript; charset=utf-8"},
		{name: "precompressed asset", path: "/ui/assets/index-abc123.js", encoding: "br, gzip", status: 200, gzip: true,
			cache: "public, max-age=31536000, immutable", contentType: "text/javascript; charset=utf-8"},
		{name: "gzip refused", path: "/ui/assets/index-abc123.js", encoding: "gzip;q=0", status: 200, body: "console.log"},
		{name: "other file revalidates", path: "/ui/favicon.svg", status: 200, cache: "no-cache", contentType: "image/svg+xml"},
		{name: "client route for a browser", path: "/ui/agents/0190f8a0", accept: html, status: 200, body: "<title>AgentIdP", cache: "no-cache"},
		{name: "client route for a non-browser", path: "/ui/agents/0190f8a0", status: 404, body: "ROUTE_NOT_FOUND"},
		{name: "missing asset is no client route", path: "/ui/assets/gone-000.js", accept: html, status: 404, body: "ROUTE_NOT_FOUND"},
		{name: "missing file with an extension", path: "/ui/robots.txt", accept: html, status: 404, body: "ROUTE_NOT_FOUND"},
		{name: "API namespace keeps the API's 404", path: "/ui/v1/agentsx", accept: html, status: 404, body: "ROUTE_NOT_FOUND"},
		{name: "oauth namespace", path: "/ui/oauth2/nope", accept: html, status: 404, body: "ROUTE_NOT_FOUND"},
		{name: "well-known namespace", path: "/ui/.well-known/nope", accept: html, status: 404, body: "ROUTE_NOT_FOUND"},
		{name: "POST is never the dashboard", method: "POST", path: "/ui/agents", accept: html, status: 404, body: "ROUTE_NOT_FOUND"},
		{name: "traversal stays inside", path: "/ui/../secret.txt", accept: html, status: 404, body: "ROUTE_NOT_FOUND"},
		{name: "symlink out of the directory", path: "/ui/escape.txt", status: 404, body: "ROUTE_NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, tt.path, nil)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			if tt.encoding != "" {
				req.Header.Set("Accept-Encoding", tt.encoding)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			body := rec.Body.String()
			if tt.gzip {
				if rec.Header().Get("Content-Encoding") != "gzip" {
					t.Fatalf("Content-Encoding %q, want gzip", rec.Header().Get("Content-Encoding"))
				}
				zr, err := gzip.NewReader(rec.Body)
				if err != nil {
					t.Fatal(err)
				}
				var b bytes.Buffer
				_, _ = b.ReadFrom(zr)
				body = b.String()
				if body != "console.log('app')" {
					t.Errorf("decompressed %q", body)
				}
			} else if rec.Header().Get("Content-Encoding") != "" {
				t.Errorf("Content-Encoding %q without gzip", rec.Header().Get("Content-Encoding"))
			}
			if !strings.Contains(body, tt.body) {
				t.Errorf("body %q lacks %q", body, tt.body)
			}
			if tt.cache != "" && rec.Header().Get("Cache-Control") != tt.cache {
				t.Errorf("Cache-Control %q, want %q", rec.Header().Get("Cache-Control"), tt.cache)
			}
			if tt.contentType != "" && rec.Header().Get("Content-Type") != tt.contentType {
				t.Errorf("Content-Type %q, want %q", rec.Header().Get("Content-Type"), tt.contentType)
			}
			if rec.Code == 200 {
				if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
					t.Errorf("CSP %q", csp)
				}
				if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
					t.Error("no nosniff")
				}
			}
			if rec.Code == 404 {
				checkNotFound(t, rec)
			}
		})
	}
}

// checkNotFound asserts the google.rpc.Status body Envoy gives a path no
// route matches.
func checkNotFound(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var st struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Type   string `json:"@type"`
			Reason string `json:"reason"`
			Domain string `json:"domain"`
		} `json:"details"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatalf("not JSON: %v: %s", err, rec.Body)
	}
	if st.Code != 5 || st.Message == "" || len(st.Details) != 1 || st.Details[0].Reason != "ROUTE_NOT_FOUND" ||
		st.Details[0].Domain != "agentidp.dev" || st.Details[0].Type != "type.googleapis.com/google.rpc.ErrorInfo" {
		t.Errorf("body %s", rec.Body)
	}
}

func TestNoDashboard(t *testing.T) {
	h, err := dashboard.New("")
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/ui/", nil)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("X-Request-Id", "req-1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), `"requestId":"req-1"`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	checkNotFound(t, rec)
}

func TestNewRefusesADirectoryWithoutIndex(t *testing.T) {
	if _, err := dashboard.New(t.TempDir()); err == nil || !strings.Contains(err.Error(), "index.html") {
		t.Fatalf("err = %v", err)
	}
	if _, err := dashboard.New(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("accepted a missing directory")
	}
}
