package policy

import (
	"strings"
	"testing"
)

// FuzzRouteTemplate: the route matcher behind agentidp.match_route and
// agentidp.path_params. A match binds every variable to one non-empty
// segment without a colon, and putting the bound values back into the
// template gives exactly the request's segments: a path variable can
// never swallow a "/", a custom verb or a literal of the route.
func FuzzRouteTemplate(f *testing.F) {
	f.Add("/v1/agents/{agentId}/credentials/{credentialId}:rotate", "v1/agents/a1/credentials/c1:rotate")
	f.Add("/v1/agents/{agentId}/credentials/{credentialId}:rotate", "v1/agents/a1/credentials/c1:rotate:rotate")
	f.Add("/v1/agents/{agentId}", "v1/agents/")
	f.Add("/v1/agents/{agentId}", "v1/agents/a:b")
	f.Add("/v1/agents/{agentId}", "v1/agents/a;x=1")
	f.Add("/v1/{a}/{b}", "v1/x/y")
	f.Add("/v1/{}/{x", "v1/{}/{x")
	f.Add("/v1/{x}y", "v1/{x}y")
	f.Add("/v1/{x}:", "v1/a:")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, path, rawSegments string) {
		segments := strings.Split(rawSegments, "/")
		tmpl := parseTemplate(path)
		params, ok := tmpl.match(segments)
		again, ok2 := parseTemplate(path).match(segments)
		if ok != ok2 || len(again) != len(params) {
			t.Fatalf("a cached template matches differently")
		}
		if !ok {
			return
		}
		if len(tmpl) != len(segments) {
			t.Fatalf("%q matched %d segments with %d parts", path, len(segments), len(tmpl))
		}
		vars := 0
		for i, p := range tmpl {
			if p.name == "" {
				if segments[i] != p.literal {
					t.Fatalf("literal %q matched %q", p.literal, segments[i])
				}
				continue
			}
			kv := params[vars]
			vars++
			if kv[0] != p.name || kv[1] == "" || strings.ContainsAny(kv[1], ":/") {
				t.Fatalf("%q bound %q = %q", path, kv[0], kv[1])
			}
			if kv[1]+p.verb != segments[i] {
				t.Fatalf("%q: %q%s does not give back segment %q", path, kv[1], p.verb, segments[i])
			}
		}
		if vars != len(params) {
			t.Fatalf("%d params for %d variables", len(params), vars)
		}
	})
}
