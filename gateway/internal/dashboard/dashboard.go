// Package dashboard serves the built web dashboard (dashboard/dist) from the
// control plane's HTTP server, which Envoy reaches for every path no API
// route claims: same origin as the API, so the browser needs no CORS.
package dashboard

import (
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"

	"github.com/sentryagent/agentidp/libs/apierror"
)

// PathPrefix is where the control plane mounts the dashboard. Envoy's
// catch-all route rewrites "/" to it, so a proxied request can never reach
// the control plane's own /metrics, /healthz or /readyz by accident.
const PathPrefix = "/ui/"

// ContentSecurityPolicy allows the app's own scripts and nothing else.
// Inline styles are allowed because Radix and sonner set positioning styles
// at run time; inline scripts, eval, plugins, framing and foreign origins
// are not. connect-src 'self' is the API, served by the same gateway.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// apiPrefixes are the API's namespaces: a path under one of them that no API
// route matched is an API client's mistake and gets the API's 404, never
// the dashboard's HTML.
var apiPrefixes = []string{"/v1/", "/oauth2/", "/.well-known/"}

// Handler serves the files of dir (nil dir: no dashboard) under PathPrefix:
//
//   - /assets/* are Vite's content-hashed files: cached for a year, immutable.
//   - Other files (index.html, favicon) are revalidated on every use
//     (no-cache), so a new deployment shows at the next load.
//   - A browser navigation (Accept: text/html) to a path that is no file and
//     has no extension is a client-side route: index.html (SPA fallback).
//   - Anything else — API namespaces, other methods, non-browser clients —
//     gets the google.rpc.Status 404 ROUTE_NOT_FOUND that Envoy gives for a
//     path no route matches, so the API's error contract is unchanged.
//
// A file with a precompressed ".gz" sibling (written by the dashboard's
// build) is served compressed to clients that accept gzip.
type Handler struct {
	files fs.FS // nil: no dashboard configured
}

// New returns a handler serving dir; an empty dir serves no dashboard (every
// path is ROUTE_NOT_FOUND). dir must contain index.html.
func New(dir string) (*Handler, error) {
	if dir == "" {
		return &Handler{}, nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	// os.Root confines every open to dir, symlinks included.
	files := root.FS()
	if st, err := fs.Stat(files, "index.html"); err != nil || st.IsDir() {
		return nil, fmt.Errorf("%s has no index.html (build the dashboard: cd dashboard && npm ci && npm run build)", dir)
	}
	return &Handler{files: files}, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := "/" + strings.TrimPrefix(r.URL.Path, PathPrefix)
	clean := path.Clean(p)
	// The namespace is judged as written and as served: "/x/../v1/agents"
	// is an API path too.
	if h.files == nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) || underAPI(p) || underAPI(clean) {
		notFound(w, r)
		return
	}
	name := strings.TrimPrefix(clean, "/")
	if name == "" {
		name = "index.html"
	}
	if h.serveFile(w, r, name) {
		return
	}
	if path.Ext(name) == "" && !strings.HasPrefix(name, "assets/") && acceptsHTML(r) {
		h.serveFile(w, r, "index.html")
		return
	}
	notFound(w, r)
}

// serveFile writes the named file and reports whether it exists.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, name string) bool {
	if !fs.ValidPath(name) {
		return false
	}
	f, err := h.files.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		return false
	}
	hdr := w.Header()
	setSecurityHeaders(hdr)
	if strings.HasPrefix(name, "assets/") {
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hdr.Set("Cache-Control", "no-cache")
	}
	hdr.Add("Vary", "Accept-Encoding")
	content := f
	if acceptsGzip(r) {
		if gz, err := h.files.Open(name + ".gz"); err == nil {
			defer gz.Close()
			if gst, err := gz.Stat(); err == nil && !gst.IsDir() {
				if ct := contentType(name); ct != "" {
					hdr.Set("Content-Type", ct)
				}
				hdr.Set("Content-Encoding", "gzip")
				content, st = gz, gst
			}
		}
	}
	rs, ok := content.(io.ReadSeeker)
	if !ok {
		return false
	}
	if hdr.Get("Content-Type") == "" {
		if ct := contentType(name); ct != "" {
			hdr.Set("Content-Type", ct)
		}
	}
	http.ServeContent(w, r, name, st.ModTime(), rs)
	return true
}

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// contentType names the types of a Vite build, so that the answer does not
// depend on the machine's MIME tables.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".json", ".map":
		return "application/json"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	case ".woff2":
		return "font/woff2"
	case ".txt":
		return "text/plain; charset=utf-8"
	}
	return ""
}

func underAPI(p string) bool {
	for _, pre := range apiPrefixes {
		if strings.HasPrefix(p, pre) || p == strings.TrimSuffix(pre, "/") {
			return true
		}
	}
	return false
}

func acceptsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// routeNotFound is the error Envoy's local_reply_config gives a path no
// route matches (gateway/internal/xds/localreply.go), with Envoy's
// response code details.
var routeNotFound = apierror.ErrRouteNotFound.WithMetadata("responseCodeDetails", "route_not_found")

func notFound(w http.ResponseWriter, r *http.Request) {
	apierror.WriteHTTP(w, routeNotFound, r.Header.Get("X-Request-Id"))
}
