package command

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"
)

// apiRoutes reads the routes the API has: policies/data/scopes.json (what
// the gateway routes and authorizes) and the OpenAPI document generated
// from the protos, as "METHOD /path/{var}".
func apiRoutes(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../../policies/data/scopes.json")
	if err != nil {
		t.Fatal(err)
	}
	var scopes struct {
		Routes []struct{ Method, Path string }
	}
	if err := json.Unmarshal(b, &scopes); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range scopes.Routes {
		out = append(out, r.Method+" "+r.Path)
	}
	b, err = os.ReadFile("../../../libs/gen/openapi/agentidp.swagger.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	// {agent.agentId} (a field of the body) is {agentId} in the route table.
	field := regexp.MustCompile(`\{[a-zA-Z]+\.([a-zA-Z]+)\}`)
	for path, ops := range doc.Paths {
		for method := range ops {
			out = append(out, strings.ToUpper(method)+" "+field.ReplaceAllString(path, "{$1}"))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// templateRE matches a request path against a route's path template.
func templateRE(path string) *regexp.Regexp {
	// QuoteMeta escapes the braces of "{var}".
	re := regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(path), `[^/:]+`)
	return regexp.MustCompile("^" + re + "$")
}

// Every route of the API is reached by a command: each command of
// routeCommands runs against a server that records what it was asked, and
// must send the request of its route.
func TestEveryRouteHasACommand(t *testing.T) {
	routes := apiRoutes(t)
	if len(routes) < 12 {
		t.Fatalf("read only %d routes: %v", len(routes), routes)
	}
	for _, r := range routes {
		if _, ok := routeCommands[r]; !ok {
			t.Errorf("route %s has no agentidp command: add one, and its line to routeCommands", r)
		}
	}
	for r := range routeCommands {
		if !slices.Contains(routes, r) && !strings.Contains(r, " /oauth2/") {
			t.Errorf("routeCommands has %s, which the API no longer has", r)
		}
	}

	var (
		mu   sync.Mutex
		seen []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/oauth2/token":
			w.Write([]byte(`{"access_token":"h.p.s","token_type":"Bearer","expires_in":900}`))
		case "/oauth2/revoke":
		default:
			w.Write([]byte(`{"ok":true}`))
		}
	}))
	defer srv.Close()
	isolate(t)
	t.Setenv("AGENTIDP_URL", srv.URL)
	t.Setenv("AGENTIDP_CLIENT_ID", "agent-1")
	t.Setenv("AGENTIDP_CLIENT_SECRET", "agentidp_sk_test")

	for route, args := range routeCommands {
		t.Run(route, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			args = slices.Clone(args)
			for i, a := range args {
				if a == "{id}" {
					args[i] = "0190c6e8-0000-7000-8000-000000000001"
				}
			}
			var out, errb bytes.Buffer
			if code := Execute(context.Background(), Streams{Out: &out, Err: &errb}, args); code != ExitOK {
				t.Fatalf("agentidp %v: exit %d: %s", args, code, errb.String())
			}
			method, path, _ := strings.Cut(route, " ")
			re := templateRE(path)
			mu.Lock()
			defer mu.Unlock()
			for _, s := range seen {
				m, p, _ := strings.Cut(s, " ")
				if m == method && re.MatchString(p) {
					return
				}
			}
			t.Errorf("agentidp %v sent %v, not %s", args, seen, route)
		})
	}
}

// isolate points the user's configuration directory at an empty one and
// clears the environment the CLI reads.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", dir+"/config")
	for _, k := range []string{"AGENTIDP_URL", "AGENTIDP_CLIENT_ID", "AGENTIDP_CLIENT_SECRET", "AGENTIDP_CLIENT_SECRET_FILE", "AGENTIDP_PROFILE"} {
		t.Setenv(k, "")
	}
	return dir
}
