package keys

import (
	"context"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/sentryagent/agentidp/libs/accesstoken"
)

func testKey(t testing.TB, alg string) *Key {
	t.Helper()
	sk, err := Generate(alg, time.Now(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	set, err := NewSet(Doc{Keys: []StoredKey{sk}})
	if err != nil {
		t.Fatal(err)
	}
	return set.Keys()[0]
}

var payload = []byte(`{"iss":"http://127.0.0.1:8080","sub":"0190c6e8-0000-7000-8000-000000000001","aud":"agentidp","exp":1790000000,"iat":1789999100,"jti":"Zm9vYmFyYmF6cXV4cXV1eA","client_id":"0190c6e8-0000-7000-8000-000000000001","scope":"agents:read tokens:introspect","credential_id":"0190c6e8-0000-7000-8000-000000000002"}`)

// TestSignCompact: go-jose verifies what SignCompact produces, with the
// same protected header go-jose's own signer writes.
func TestSignCompact(t *testing.T) {
	for _, alg := range []string{ES256, EdDSA} {
		k := testKey(t, alg)
		tok, err := k.SignCompact(context.Background(), payload)
		if err != nil {
			t.Fatal(err)
		}
		jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
		if err != nil {
			t.Fatal(err)
		}
		got, err := jws.Verify(k.Public)
		if err != nil || string(got) != string(payload) {
			t.Fatalf("%s: %v", alg, err)
		}
		h := jws.Signatures[0].Protected
		if h.KeyID != k.KID || h.Algorithm != alg || h.ExtraHeaders[jose.HeaderType] != accesstoken.TokenType {
			t.Fatalf("%s: header %+v", alg, h)
		}
	}
}

// BenchmarkSign compares go-jose's signer with SignCompact on one key:
// the difference is the library's per-token header work.
func BenchmarkSign(b *testing.B) {
	for _, alg := range []string{ES256, EdDSA} {
		k := testKey(b, alg)
		b.Run(alg+"/go-jose", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				jws, err := k.Signer.Sign(payload)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := jws.CompactSerialize(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/compact", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.SignCompact(context.Background(), payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
