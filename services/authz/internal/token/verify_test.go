package token_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/services/authz/internal/jwks"
	"github.com/sentryagent/agentidp/services/authz/internal/token"
)

// keySet is a fixed set of verification keys (what a fetched JWKS holds).
type keySet map[string]jwks.Key

func (k keySet) LookupOrRefresh(_ context.Context, kid string) (jwks.Key, bool) {
	key, ok := k[kid]
	return key, ok
}

var enc = base64.RawURLEncoding

func sign(t testing.TB, key crypto.Signer, header, claims map[string]any) string {
	t.Helper()
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	input := enc.EncodeToString(hb) + "." + enc.EncodeToString(cb)
	var sig []byte
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		d := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(input))
	}
	return input + "." + enc.EncodeToString(sig)
}

func TestVerify(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	keys := keySet{
		"ec": {ID: "ec", Alg: jwks.ES256, Public: &ec.PublicKey},
		"ed": {ID: "ed", Alg: jwks.EdDSA, Public: ed.Public()},
	}
	now := time.Unix(1_800_000_000, 0)
	v := token.New(token.Config{Keys: keys, Issuer: "https://idp", Audience: "agentidp", Skew: 30 * time.Second,
		Now: func() time.Time { return now }})
	claims := func(over map[string]any) map[string]any {
		c := map[string]any{"iss": "https://idp", "sub": "agent-1", "aud": "agentidp", "exp": now.Unix() + 600,
			"iat": now.Unix() - 10, "jti": "j-1", "client_id": "agent-1", "scope": "agents:read audit:read",
			"credential_id": "c-1"}
		for k, val := range over {
			if val == nil {
				delete(c, k)
			} else {
				c[k] = val
			}
		}
		return c
	}
	es := map[string]any{"alg": "ES256", "kid": "ec", "typ": "at+jwt"}
	with := func(h map[string]any, k string, val any) map[string]any {
		out := map[string]any{}
		for a, b := range h {
			out[a] = b
		}
		if val == nil {
			delete(out, k)
		} else {
			out[k] = val
		}
		return out
	}
	good := sign(t, ec, es, claims(nil))
	hs := func() string {
		hb, _ := json.Marshal(map[string]any{"alg": "HS256", "kid": "ec", "typ": "at+jwt"})
		cb, _ := json.Marshal(claims(nil))
		input := enc.EncodeToString(hb) + "." + enc.EncodeToString(cb)
		pub, _ := json.Marshal(map[string]any{"kty": "EC"})
		m := hmac.New(sha256.New, pub)
		m.Write([]byte(input))
		return input + "." + enc.EncodeToString(m.Sum(nil))
	}()
	parts := strings.Split(good, ".")

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"ES256", good, nil},
		{"EdDSA", sign(t, ed, map[string]any{"alg": "EdDSA", "kid": "ed", "typ": "at+jwt"}, claims(nil)), nil},
		{"application/at+jwt", sign(t, ec, with(es, "typ", "application/AT+JWT"), claims(nil)), nil},
		{"audience list", sign(t, ec, es, claims(map[string]any{"aud": []string{"x", "agentidp"}})), nil},
		{"within the skew", sign(t, ec, es, claims(map[string]any{"exp": now.Unix() - 10})), nil},
		{"empty", "", token.ErrMalformed},
		{"two segments", "a.b", token.ErrMalformed},
		{"four segments", good + ".x", token.ErrMalformed},
		{"padding", parts[0] + "=." + parts[1] + "." + parts[2], token.ErrMalformed},
		{"too long", strings.Repeat("a", token.MaxLength+1), token.ErrMalformed},
		{"alg none", parts[0][:0] + enc.EncodeToString([]byte(`{"alg":"none","kid":"ec","typ":"at+jwt"}`)) + "." + parts[1] + ".", token.ErrAlgorithm},
		{"alg HS256 with the public key", hs, token.ErrAlgorithm},
		{"alg RS256", sign(t, ec, with(es, "alg", "RS256"), claims(nil)), token.ErrAlgorithm},
		{"alg of another key type", sign(t, ec, with(es, "alg", "EdDSA"), claims(nil)), token.ErrAlgorithm},
		{"typ JWT", sign(t, ec, with(es, "typ", "JWT"), claims(nil)), token.ErrType},
		{"no typ", sign(t, ec, with(es, "typ", nil), claims(nil)), token.ErrType},
		{"crit", sign(t, ec, with(es, "crit", []string{"b64"}), claims(nil)), token.ErrMalformed},
		{"no kid", sign(t, ec, with(es, "kid", nil), claims(nil)), token.ErrUnknownKey},
		{"unknown kid", sign(t, ec, with(es, "kid", "other"), claims(nil)), token.ErrUnknownKey},
		{"signed by another key", sign(t, ed, with(es, "kid", "ed"), claims(nil)), token.ErrAlgorithm},
		{"tampered payload", parts[0] + "." + enc.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + parts[2], token.ErrSignature},
		{"short signature", parts[0] + "." + parts[1] + "." + enc.EncodeToString([]byte("abc")), token.ErrSignature},
		{"wrong issuer", sign(t, ec, es, claims(map[string]any{"iss": "https://evil"})), token.ErrIssuer},
		{"wrong audience", sign(t, ec, es, claims(map[string]any{"aud": "billing"})), token.ErrAudience},
		{"no audience", sign(t, ec, es, claims(map[string]any{"aud": nil})), token.ErrAudience},
		{"expired", sign(t, ec, es, claims(map[string]any{"exp": now.Unix() - 31})), token.ErrExpired},
		{"no exp", sign(t, ec, es, claims(map[string]any{"exp": nil})), token.ErrClaims},
		{"not yet valid", sign(t, ec, es, claims(map[string]any{"nbf": now.Unix() + 60})), token.ErrNotYetValid},
		{"issued in the future", sign(t, ec, es, claims(map[string]any{"iat": now.Unix() + 60})), token.ErrIssuedFuture},
		{"no sub", sign(t, ec, es, claims(map[string]any{"sub": nil})), token.ErrClaims},
		{"no jti", sign(t, ec, es, claims(map[string]any{"jti": nil})), token.ErrClaims},
		{"no client_id", sign(t, ec, es, claims(map[string]any{"client_id": nil})), token.ErrClaims},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tt.token)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want == nil && (c.Subject != "agent-1" || len(c.Scopes) != 2 || c.CredentialID != "c-1" || c.KeyID == "") {
				t.Fatalf("claims %+v", c)
			}
		})
	}
}

func TestCache(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := token.NewCache(64, func() time.Time { return now })
	e := token.NewEntry(&token.Claims{ID: "j1", KeyID: "k1", Expiry: now.Unix() + 60})
	c.Put(token.KeyOf("t1"), e)
	c.Put(token.KeyOf("t2"), token.NewEntry(&token.Claims{ID: "j2", KeyID: "k2", Expiry: now.Unix() + 60}))
	c.Put(token.KeyOf("old"), token.NewEntry(&token.Claims{ID: "j3", KeyID: "k1", Expiry: now.Unix()}))
	if c.Get(token.KeyOf("t1")) != e || c.Get(token.KeyOf("old")) != nil {
		t.Fatal("Get")
	}
	c.DropJTI("j1")
	if c.Get(token.KeyOf("t1")) != nil {
		t.Fatal("revoked jti still cached")
	}
	c.DropKeys([]string{"k2"})
	if c.Get(token.KeyOf("t2")) != nil {
		t.Fatal("token of a withdrawn key still cached")
	}
	for i := 0; i < 10_000; i++ {
		c.Put(token.KeyOf(strings.Repeat("x", i)), token.NewEntry(&token.Claims{ID: string(rune(i)), Expiry: now.Unix() + 60}))
	}
	if n := c.Len(); n > 64 {
		t.Fatalf("%d entries in a cache of 64", n)
	}
	if e.Checked(0) || e.Checked(1) {
		t.Fatal("Checked before MarkChecked")
	}
	e.MarkChecked(3)
	if !e.Checked(3) || e.Checked(4) {
		t.Fatal("epochs")
	}
}

// TestCacheDropsIdleTokens: a token nobody presents for IdleFor is dropped
// even though it is still valid (clients replace tokens long before they
// expire); one in use stays.
func TestCacheDropsIdleTokens(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := token.NewCache(1<<16, func() time.Time { return now })
	claims := func(id string) *token.Claims { return &token.Claims{ID: id, Expiry: now.Unix() + 900} }
	used, idle := token.NewEntry(claims("used")), token.NewEntry(claims("idle"))
	c.Put(token.KeyOf("used"), used)
	c.Put(token.KeyOf("idle"), idle)
	for step := time.Duration(0); step <= token.IdleFor+token.IdleFor/2; step += 10 * time.Second {
		now = now.Add(10 * time.Second)
		if c.Get(token.KeyOf("used")) != used {
			t.Fatalf("the token in use was dropped after %v", step)
		}
		// Traffic: new tokens in every shard, which is what sweeps.
		for i := 0; i < 256; i++ {
			c.Put(token.KeyOf(fmt.Sprint(step, i)), token.NewEntry(claims(fmt.Sprint(step, i))))
		}
	}
	if c.Get(token.KeyOf("idle")) != nil {
		t.Fatal("a token idle for 1.5 × IdleFor is still cached")
	}
	// What is left is what was used within the last IdleFor (+ a sweep
	// interval, rounded up to a step): 256 per 10 s, plus "used".
	if n, most := c.Len(), 256*(int((token.IdleFor+token.IdleFor/4)/(10*time.Second))+1)+1; n > most {
		t.Fatalf("%d entries cached, want at most %d", n, most)
	}
}
