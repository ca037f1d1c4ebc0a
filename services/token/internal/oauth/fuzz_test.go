package oauth

import (
	"slices"
	"strings"
	"testing"
)

// FuzzParseScope: a scope parameter is accepted exactly when every
// space-delimited token is in RFC 6749 §3.3's alphabet; what is accepted
// has no repeats, keeps the client's order, and parses back to itself; a
// grant never exceeds what the agent is allowed.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"", "agents:read", "agents:read audit:read agents:read", " \t agents:read\n",
		"*", "a\"b", "a\\b", "a\x00b", "agents:read\x7f", "é", "AGENTS:READ agents:read", "\u00a0agents:read",
		"a\vb", strings.Repeat("x ", 100)} {
		f.Add(s, "agents:read audit:read")
	}
	f.Fuzz(func(t *testing.T, scope, allowedScope string) {
		got, ok := ParseScope(scope)
		valid := true
		for _, field := range strings.Fields(scope) {
			for i := 0; i < len(field); i++ {
				if c := field[i]; c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
					valid = false
				}
			}
		}
		if ok != valid {
			t.Fatalf("ParseScope(%q) ok=%v, want %v", scope, ok, valid)
		}
		if !ok {
			return
		}
		seen := map[string]bool{}
		for _, s := range got {
			if seen[s] || !validScopeToken(s) || strings.ContainsAny(s, " \t\r\n") {
				t.Fatalf("ParseScope(%q) = %q", scope, got)
			}
			seen[s] = true
		}
		for _, field := range strings.Fields(scope) {
			if !seen[field] {
				t.Fatalf("ParseScope(%q) lost %q", scope, field)
			}
		}
		again, ok := ParseScope(strings.Join(got, " "))
		if !ok || !slices.Equal(again, got) {
			t.Fatalf("not idempotent: %q then %q", got, again)
		}
		allowed, ok := ParseScope(allowedScope)
		if !ok {
			return
		}
		granted, ok := grant(got, allowed)
		if !ok {
			return
		}
		for _, s := range granted {
			if !slices.Contains(allowed, s) {
				t.Fatalf("grant(%q, %q) gave %q", got, allowed, s)
			}
		}
	})
}
