package accesstoken_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/services/token/internal/accesstoken"
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

func TestIssueVerify(t *testing.T) {
	for _, alg := range []string{keys.ES256, keys.EdDSA} {
		t.Run(alg, func(t *testing.T) {
			set := newSet(t, alg)
			c := accesstoken.New(accesstoken.Config{Keys: fixedKeys{set}, Issuer: "https://idp.test", Audience: "agentidp", TTL: time.Minute})
			tok, claims, err := c.Issue(accesstoken.Subject{AgentID: "a1", ClientID: "a1", CredentialID: "c1", Scope: "x y"})
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
			got, err := c.Verify(tok)
			if err != nil || got.Subject != "a1" || got.Scope != "x y" || got.CredentialID != "c1" || got.Audience[0] != "agentidp" {
				t.Fatalf("verify: %+v %v", got, err)
			}
			// Another issuer's codec, another key set, tampering: all invalid.
			other := accesstoken.New(accesstoken.Config{Keys: fixedKeys{set}, Issuer: "https://other", Audience: "agentidp", TTL: time.Minute})
			if _, err := other.Verify(tok); err == nil {
				t.Fatal("wrong issuer accepted")
			}
			stranger := accesstoken.New(accesstoken.Config{Keys: fixedKeys{newSet(t, alg)}, Issuer: "https://idp.test", TTL: time.Minute})
			if _, err := stranger.Verify(tok); err == nil {
				t.Fatal("unknown key accepted")
			}
			parts := strings.Split(tok, ".")
			parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://idp.test","sub":"admin","jti":"x"}`))
			if _, err := c.Verify(strings.Join(parts, ".")); err == nil {
				t.Fatal("tampered payload accepted")
			}
			if _, err := c.Verify("not.a.token"); err == nil {
				t.Fatal("garbage accepted")
			}
		})
	}
}

// BenchmarkIssue is the cost of signing alone (go-jose, ES256): claims
// JSON, protected header, ECDSA P-256, compact serialization.
func BenchmarkIssue(b *testing.B) {
	for _, alg := range []string{keys.ES256, keys.EdDSA} {
		b.Run(alg, func(b *testing.B) {
			c := accesstoken.New(accesstoken.Config{Keys: fixedKeys{newSet(b, alg)}, Issuer: "http://127.0.0.1:8080", Audience: "agentidp", TTL: 15 * time.Minute})
			s := accesstoken.Subject{AgentID: "0190c6e8-0000-7000-8000-000000000001", ClientID: "0190c6e8-0000-7000-8000-000000000001",
				CredentialID: "0190c6e8-0000-7000-8000-000000000002", Scope: "agents:read tokens:introspect"}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := c.Issue(s); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	c := accesstoken.New(accesstoken.Config{Keys: fixedKeys{newSet(b, keys.ES256)}, Issuer: "http://127.0.0.1:8080", Audience: "agentidp", TTL: 15 * time.Minute})
	tok, _, _ := c.Issue(accesstoken.Subject{AgentID: "a", ClientID: "a", Scope: "s"})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
