package issuer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/accesstoken"
	"github.com/sentryagent/agentidp/services/token/internal/issuer"
	"github.com/sentryagent/agentidp/services/token/internal/keys"
)

type fixedKeys struct{ set *keys.Set }

func (f fixedKeys) Set() *keys.Set { return f.set }

func newSet(t testing.TB, alg string) *keys.Set {
	t.Helper()
	k, err := keys.Generate(alg, time.Unix(0, 0), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	set, err := keys.NewSet(keys.Doc{CacheKey: make([]byte, 32), Keys: []keys.StoredKey{k}})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// verifier is how the service verifies its own tokens (introspection,
// revocation): libs/accesstoken over the published keys.
func verifier(set *keys.Set, iss string) *accesstoken.Verifier {
	return accesstoken.New(accesstoken.Config{Keys: issuer.Keys{Source: fixedKeys{set}}, Issuer: iss,
		Audience: "agentidp", Skew: 30 * time.Second})
}

func TestIssueVerify(t *testing.T) {
	ctx := context.Background()
	for _, alg := range []string{keys.ES256, keys.EdDSA} {
		t.Run(alg, func(t *testing.T) {
			set := newSet(t, alg)
			c := issuer.New(issuer.Config{Keys: fixedKeys{set}, Issuer: "https://idp.test", Audience: "agentidp", TTL: time.Minute})
			tok, claims, err := c.Issue(context.Background(), issuer.Subject{AgentID: "a1", ClientID: "a1", CredentialID: "c1", Scope: "x y", Owner: "acme"})
			if err != nil {
				t.Fatal(err)
			}
			header, _, _ := strings.Cut(tok, ".")
			raw, _ := base64.RawURLEncoding.DecodeString(header)
			var h map[string]string
			_ = json.Unmarshal(raw, &h)
			if h["typ"] != "at+jwt" || h["alg"] != alg || h["kid"] != set.Keys()[0].KID {
				t.Fatalf("header %v", h)
			}
			if claims.Expiry-claims.IssuedAt != 60 || claims.ID == "" {
				t.Fatalf("claims %+v", claims)
			}
			v := verifier(set, "https://idp.test")
			got, err := v.Verify(ctx, tok)
			if err != nil || got.Subject != "a1" || got.Scope != "x y" || got.CredentialID != "c1" || got.Owner != "acme" ||
				got.Audience[0] != "agentidp" || !reflect.DeepEqual(got.Claims, claims) || got.KeyID != h["kid"] {
				t.Fatalf("verify: %+v %v", got, err)
			}
			// Another issuer, another key set, tampering: all invalid.
			if _, err := verifier(set, "https://other").Verify(ctx, tok); !errors.Is(err, accesstoken.ErrIssuer) {
				t.Fatalf("wrong issuer: %v", err)
			}
			if _, err := verifier(newSet(t, alg), "https://idp.test").Verify(ctx, tok); !errors.Is(err, accesstoken.ErrUnknownKey) {
				t.Fatalf("unknown key: %v", err)
			}
			if _, err := verifier(nil, "https://idp.test").Verify(ctx, tok); !errors.Is(err, accesstoken.ErrUnknownKey) {
				t.Fatalf("no keys loaded: %v", err)
			}
			parts := strings.Split(tok, ".")
			parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://idp.test","sub":"admin","jti":"x"}`))
			if _, err := v.Verify(ctx, strings.Join(parts, ".")); !errors.Is(err, accesstoken.ErrSignature) {
				t.Fatalf("tampered payload: %v", err)
			}
			if _, err := v.Verify(ctx, "not.a.token"); err == nil {
				t.Fatal("garbage accepted")
			}
		})
	}
}

// BenchmarkIssue is the cost of signing alone: claims JSON, ECDSA P-256
// or Ed25519, compact serialization.
func BenchmarkIssue(b *testing.B) {
	for _, alg := range []string{keys.ES256, keys.EdDSA} {
		b.Run(alg, func(b *testing.B) {
			c := issuer.New(issuer.Config{Keys: fixedKeys{newSet(b, alg)}, Issuer: "http://127.0.0.1:8080", Audience: "agentidp", TTL: 15 * time.Minute})
			s := issuer.Subject{AgentID: "0190c6e8-0000-7000-8000-000000000001", ClientID: "0190c6e8-0000-7000-8000-000000000001",
				CredentialID: "0190c6e8-0000-7000-8000-000000000002", Scope: "agents:read tokens:introspect"}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := c.Issue(context.Background(), s); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
