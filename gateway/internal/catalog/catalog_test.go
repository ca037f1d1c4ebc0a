package catalog

import (
	"regexp"
	"strings"
	"testing"
)

// TestRows guards the rules a new row must follow.
func TestRows(t *testing.T) {
	names := map[string]bool{}
	paths := map[string]string{}
	for _, s := range Services() {
		if s.Name == "" || names[s.Name] {
			t.Errorf("service name %q empty or repeated", s.Name)
		}
		names[s.Name] = true
		if s.Protocol == GRPCTranscoded && len(s.GRPCServices) == 0 {
			t.Errorf("%s: transcoded but no gRPC services", s.Name)
		}
		if s.Protocol == HTTP && !strings.HasPrefix(s.ReadinessPath, "/") {
			t.Errorf("%s: an HTTP service needs a ReadinessPath for health checks", s.Name)
		}
		if len(s.Routes) == 0 && s.Protocol != ExtAuthz {
			t.Errorf("%s: no routes", s.Name)
		}
		if s.Protocol == ExtAuthz && (len(s.Routes) > 0 || s.Name != Authz) {
			t.Errorf("%s: the ext_authz service is %q and owns no routes", s.Name, Authz)
		}
		for _, r := range s.Routes {
			set := 0
			for _, v := range []string{r.Path, r.Prefix, r.Regex} {
				if v != "" {
					set++
				}
			}
			if set != 1 {
				t.Errorf("%s: route %+v must set exactly one of Path, Prefix and Regex", s.Name, r)
			}
			if r.Regex != "" {
				if _, err := regexp.Compile("^(?:" + r.Regex + ")$"); err != nil {
					t.Errorf("%s: regex %q: %v", s.Name, r.Regex, err)
				}
			}
			// A prefix without a trailing slash would also catch siblings
			// (/v1/agents would match /v1/agentsx).
			if r.Prefix != "" && !strings.HasSuffix(r.Prefix, "/") {
				t.Errorf("%s: prefix %q does not end in /", s.Name, r.Prefix)
			}
			key := r.Path + r.Prefix + r.Regex
			if other, ok := paths[key]; ok {
				t.Errorf("%s: %s is already routed to %s", s.Name, key, other)
			}
			paths[key] = s.Name
		}
		if got, ok := Lookup(s.Name); !ok || got.Name != s.Name {
			t.Errorf("Lookup(%q) = %v, %v", s.Name, got, ok)
		}
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup found an unknown service")
	}
	// Envoy takes the first match: credentials' routes live under the
	// registry's /v1/agents/ prefix, so its row must come first.
	if names := Names(); names[0] != "credentials" {
		t.Errorf("first row is %q, want credentials", names[0])
	}
}
