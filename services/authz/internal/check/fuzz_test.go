package check

import (
	"strings"
	"testing"
)

// FuzzBearer: the Authorization header yields one bearer token or none.
// A token is non-empty and has no space, tab or comma (Envoy joins repeated
// headers with ","), and "Bearer <token>" gives it back; a header in
// another scheme is no token at all; anything else that starts like Bearer
// is malformed, never a token with part of the header in it.
func FuzzBearer(f *testing.F) {
	for _, h := range []string{"", "Bearer abc.def.ghi", "bearer x", "BEARER x", "Bearer", "Bearer ", "Bearer  x",
		"Bearer a b", "Bearer a, Bearer b", "Basic YTpi", "Bearerx", "Digest x", "Bearer\tx", "Bearer x\t", " Bearer x"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, kind := bearer(h)
		switch kind {
		case bearerPresent:
			if tok == "" || strings.ContainsAny(tok, " \t,") {
				t.Fatalf("bearer(%q) = %q", h, tok)
			}
			if !strings.HasSuffix(h, tok) || !strings.EqualFold(h[:6], "bearer") {
				t.Fatalf("bearer(%q) = %q: not the header's token", h, tok)
			}
			if again, k := bearer("Bearer " + tok); k != bearerPresent || again != tok {
				t.Fatalf("bearer(Bearer %q) = %q, %d", tok, again, k)
			}
		case bearerAbsent:
			if tok != "" || strings.HasPrefix(strings.ToLower(h), "bearer ") {
				t.Fatalf("bearer(%q) = no token", h)
			}
		case bearerMalformed:
			if tok != "" {
				t.Fatalf("bearer(%q) malformed with token %q", h, tok)
			}
		default:
			t.Fatalf("bearer(%q) kind %d", h, kind)
		}
	})
}
