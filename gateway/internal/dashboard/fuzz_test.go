package dashboard_test

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sentryagent/agentidp/gateway/internal/dashboard"
)

// FuzzServeHTTP: the control plane's own path handling (Envoy sends every
// path no API route claims here, under /ui/). Whatever the path, method
// and headers, nothing outside the dashboard's directory is ever served
// (a sibling file and a symlink to it exist), a 200 is one of its files,
// and a path in an API namespace — as written or once cleaned — is the
// API's JSON ROUTE_NOT_FOUND, never the app.
func FuzzServeHTTP(f *testing.F) {
	dir := f.TempDir()
	files := map[string]string{
		"index.html":             "<!doctype html><title>AgentIdP</title>",
		"favicon.svg":            "<svg/>",
		"assets/index-abc123.js": "console.log('app')",
	}
	for name, content := range files {
		p := filepath.Join(dir, "dist", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("TOP-SECRET"), 0o644); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "secret.txt"), filepath.Join(dir, "dist", "escape.txt")); err != nil {
		f.Fatal(err)
	}
	h, err := dashboard.New(filepath.Join(dir, "dist"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"", "index.html", "assets/index-abc123.js", "../secret.txt", "..%2fsecret.txt", "escape.txt",
		"agents/123", "v1/agents", "x/../v1/agents", "./.well-known/jwks.json", "oauth2", "assets/../../secret.txt",
		"//secret.txt", "assets/missing", "%2e%2e/secret.txt", "\x00"} {
		f.Add("GET", p, "text/html", "gzip")
	}
	f.Add("POST", "index.html", "*/*", "")
	f.Add("HEAD", "favicon.svg", "", "identity")
	f.Fuzz(func(t *testing.T, method, p, accept, encoding string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Method = method
		r.URL.Path = dashboard.PathPrefix + p
		r.Header.Set("Accept", accept)
		r.Header.Set("Accept-Encoding", encoding)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		body := w.Body.String()
		if strings.Contains(body, "TOP-SECRET") {
			t.Fatalf("%s %q served a file outside the dashboard", method, p)
		}
		clean := path.Clean("/" + p)
		for _, api := range []string{"/v1", "/oauth2", "/.well-known"} {
			if inNamespace("/"+p, api) || inNamespace(clean, api) {
				checkRouteNotFound(t, w, method, p)
				return
			}
		}
		switch w.Code {
		case 200:
			if method == "HEAD" {
				return
			}
			for _, content := range files {
				if body == content {
					return
				}
			}
			if w.Header().Get("Content-Encoding") == "gzip" {
				return // the precompressed copy of a file
			}
			t.Fatalf("%s %q: 200 with a body that is none of the files: %q", method, p, body)
		case 404:
			checkRouteNotFound(t, w, method, p)
		case 206, 304, 412, 416:
		default:
			t.Fatalf("%s %q: status %d", method, p, w.Code)
		}
	})
}

func inNamespace(p, api string) bool { return p == api || strings.HasPrefix(p, api+"/") }

func checkRouteNotFound(t *testing.T, w *httptest.ResponseRecorder, method, p string) {
	t.Helper()
	var body struct {
		Code    int
		Details []struct{ Reason string }
	}
	if w.Code != 404 || json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Code != 5 ||
		len(body.Details) != 1 || body.Details[0].Reason != "ROUTE_NOT_FOUND" {
		t.Fatalf("%s %q: %d %s, want the API's 404 ROUTE_NOT_FOUND", method, p, w.Code, w.Body)
	}
}
