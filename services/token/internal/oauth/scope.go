package oauth

import "strings"

// ScopeIntrospect lets a caller use the introspection endpoint.
const ScopeIntrospect = "tokens:introspect"

// ParseScope splits a scope parameter (RFC 6749 §3.3: space-delimited
// tokens of %x21 / %x23-5B / %x5D-7E), dropping repeats but keeping order.
func ParseScope(s string) ([]string, bool) {
	fields := strings.Fields(s)
	out := fields[:0]
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if !validScopeToken(f) {
			return nil, false
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out, true
}

func validScopeToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return s != ""
}

// grant returns the scopes a token gets: all of allowed when nothing was
// requested, else the requested ones, which must all be allowed.
func grant(requested, allowed []string) ([]string, bool) {
	if len(requested) == 0 {
		return allowed, true
	}
	for _, r := range requested {
		if !contains(allowed, r) {
			return nil, false
		}
	}
	return requested, true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
