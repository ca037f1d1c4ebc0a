package app_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// TestKeyRotation runs the real schedule with short intervals: every
// signing key is in the JWKS at least JWKS_MAX_AGE before its first token
// (so a verifier's cached JWKS always has it), and tokens signed before a
// rotation still verify after it.
func TestKeyRotation(t *testing.T) {
	p := startPlatform(t)
	srv := startToken(t, p.env("KEY_ROTATION_INTERVAL=3s", "KEY_PREPUBLISH=1500ms",
		"KEY_RELOAD_INTERVAL=200ms", "JWKS_MAX_AGE=1s", "TOKEN_TTL=1m"))
	c := p.credential(p.agent("agents:read"), 0)

	firstSeen := map[string]time.Time{} // kid -> first time the JWKS had it
	firstUsed := map[string]time.Time{} // kid -> first token signed with it
	var tokens []string
	kidOf := func(tok string) string {
		msg, err := jws.Parse([]byte(tok))
		if err != nil {
			t.Fatal(err)
		}
		kid, _ := msg.Signatures()[0].ProtectedHeaders().KeyID()
		return kid
	}
	deadline := time.Now().Add(12 * time.Second)
	for len(firstUsed) < 3 && time.Now().Before(deadline) {
		var set struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		now := time.Now()
		if err := json.Unmarshal(srv.do("GET", "/.well-known/jwks.json", "").body, &set); err != nil {
			t.Fatal(err)
		}
		for _, k := range set.Keys {
			if _, ok := firstSeen[k.Kid]; !ok {
				firstSeen[k.Kid] = now
			}
		}
		tok := srv.mustToken(c, "")
		kid := kidOf(tok)
		if _, ok := firstUsed[kid]; !ok {
			firstUsed[kid] = time.Now()
			tokens = append(tokens, tok)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(firstUsed) < 3 {
		t.Fatalf("only %d signing keys used in 12s with a 3s rotation", len(firstUsed))
	}
	bootstrap := kidOf(tokens[0]) // the very first key signs as soon as it exists
	for kid, used := range firstUsed {
		seen, ok := firstSeen[kid]
		if !ok {
			t.Fatalf("key %s signed but was never in the JWKS", kid)
		}
		lead := used.Sub(seen)
		t.Logf("key %.8s… published %s before its first token", kid, lead.Round(time.Millisecond))
		if kid == bootstrap {
			continue
		}
		if lead < time.Second {
			t.Errorf("key %s published only %s before it signed (JWKS_MAX_AGE is 1s)", kid, lead)
		}
	}
	// Every token, including those of retired keys, verifies against the
	// current JWKS (retention: TOKEN_TTL + reload + 1m).
	set, err := jwk.Fetch(t.Context(), srv.base+"/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	for i, tok := range tokens {
		if _, err := jwt.Parse([]byte(tok), jwt.WithKeySet(set)); err != nil {
			t.Fatalf("token %d (key %s) no longer verifies after rotation: %v", i, kidOf(tok), err)
		}
	}
}
