package issuer_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/accesstoken"
	"github.com/sentryagent/agentidp/services/token/internal/issuer"
	"github.com/sentryagent/agentidp/services/token/internal/keys"
)

// FuzzVerify: introspection and revocation verify tokens that anyone may
// send, with libs/accesstoken over this service's keys (issuer.Keys).
// Verify accepts only what this issuer signed: the header and payload of
// every accepted token are those of a token Issue returned (an attacker
// cannot produce a new signature; ECDSA's malleable s may change only the
// signature part), with this issuer and a jti.
func FuzzVerify(f *testing.F) {
	set := newSet(f, keys.ES256)
	c := issuer.New(issuer.Config{Keys: fixedKeys{set}, Issuer: "https://idp.test", Audience: "agentidp", TTL: time.Minute})
	v := verifier(set, "https://idp.test")
	issued := map[string]bool{}
	for _, scope := range []string{"agents:read", "", "a b c"} {
		tok, _, err := c.Issue(context.Background(), issuer.Subject{AgentID: "a1", ClientID: "a1", CredentialID: "c1", Scope: scope})
		if err != nil {
			f.Fatal(err)
		}
		issued[tok[:strings.LastIndexByte(tok, '.')]] = true
		f.Add(tok)
		parts := strings.Split(tok, ".")
		enc := base64.RawURLEncoding
		f.Add(enc.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + parts[1] + ".")
		f.Add(enc.EncodeToString([]byte(`{"alg":"HS256","kid":"`+set.Keys()[0].KID+`","typ":"at+jwt"}`)) + "." + parts[1] + "." + parts[2])
		f.Add(parts[0] + "." + enc.EncodeToString([]byte(`{"iss":"https://idp.test","sub":"admin","jti":"x"}`)) + "." + parts[2])
		f.Add(tok + ".x.y")
		f.Add(`{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`)
	}
	f.Add("")
	f.Add("..")
	f.Add(strings.Repeat("a", 9000))
	f.Fuzz(func(t *testing.T, tok string) {
		claims, err := v.Verify(context.Background(), tok)
		if err != nil {
			if _, ok := errors.AsType[*accesstoken.Error](err); !ok {
				t.Fatalf("Verify error %v is not an accesstoken.Error", err)
			}
			return
		}
		i := strings.LastIndexByte(tok, '.')
		if i < 0 || !issued[tok[:i]] {
			t.Fatalf("accepted a token this issuer never signed: %q", tok)
		}
		if claims.Issuer != "https://idp.test" || claims.ID == "" || claims.Subject != "a1" {
			t.Fatalf("accepted claims %+v", claims)
		}
	})
}
