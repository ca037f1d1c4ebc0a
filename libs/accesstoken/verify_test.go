package accesstoken_test

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
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/accesstoken"
)

// keySet is a fixed set of verification keys (what a fetched JWKS holds).
type keySet map[string]accesstoken.Key

func (k keySet) LookupOrRefresh(_ context.Context, kid string) (accesstoken.Key, bool) {
	key, ok := k[kid]
	return key, ok
}

var enc = base64.RawURLEncoding

func sign(t testing.TB, key crypto.Signer, header, claims map[string]any) string {
	t.Helper()
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	return signRaw(t, key, string(hb), string(cb))
}

// signRaw signs a header and claims written as JSON text, so that a test
// can write what json.Marshal never would (duplicate members, numbers as
// written).
func signRaw(t testing.TB, key crypto.Signer, header, claims string) string {
	t.Helper()
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
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
		"ec": {ID: "ec", Alg: accesstoken.ES256, Public: &ec.PublicKey},
		"ed": {ID: "ed", Alg: accesstoken.EdDSA, Public: ed.Public()},
	}
	now := time.Unix(1_800_000_000, 0)
	v := accesstoken.New(accesstoken.Config{Keys: keys, Issuer: "https://idp", Audience: "agentidp", Skew: 30 * time.Second,
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
		{"empty", "", accesstoken.ErrMalformed},
		{"two segments", "a.b", accesstoken.ErrMalformed},
		{"four segments", good + ".x", accesstoken.ErrMalformed},
		{"padding", parts[0] + "=." + parts[1] + "." + parts[2], accesstoken.ErrMalformed},
		{"too long", strings.Repeat("a", accesstoken.MaxLength+1), accesstoken.ErrMalformed},
		{"alg none", parts[0][:0] + enc.EncodeToString([]byte(`{"alg":"none","kid":"ec","typ":"at+jwt"}`)) + "." + parts[1] + ".", accesstoken.ErrAlgorithm},
		{"alg HS256 with the public key", hs, accesstoken.ErrAlgorithm},
		{"alg RS256", sign(t, ec, with(es, "alg", "RS256"), claims(nil)), accesstoken.ErrAlgorithm},
		{"alg of another key type", sign(t, ec, with(es, "alg", "EdDSA"), claims(nil)), accesstoken.ErrAlgorithm},
		{"typ JWT", sign(t, ec, with(es, "typ", "JWT"), claims(nil)), accesstoken.ErrType},
		{"no typ", sign(t, ec, with(es, "typ", nil), claims(nil)), accesstoken.ErrType},
		{"crit", sign(t, ec, with(es, "crit", []string{"b64"}), claims(nil)), accesstoken.ErrMalformed},
		{"no kid", sign(t, ec, with(es, "kid", nil), claims(nil)), accesstoken.ErrUnknownKey},
		{"unknown kid", sign(t, ec, with(es, "kid", "other"), claims(nil)), accesstoken.ErrUnknownKey},
		{"signed by another key", sign(t, ed, with(es, "kid", "ed"), claims(nil)), accesstoken.ErrAlgorithm},
		{"tampered payload", parts[0] + "." + enc.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + parts[2], accesstoken.ErrSignature},
		{"short signature", parts[0] + "." + parts[1] + "." + enc.EncodeToString([]byte("abc")), accesstoken.ErrSignature},
		{"wrong issuer", sign(t, ec, es, claims(map[string]any{"iss": "https://evil"})), accesstoken.ErrIssuer},
		{"wrong audience", sign(t, ec, es, claims(map[string]any{"aud": "billing"})), accesstoken.ErrAudience},
		{"no audience", sign(t, ec, es, claims(map[string]any{"aud": nil})), accesstoken.ErrAudience},
		{"expired", sign(t, ec, es, claims(map[string]any{"exp": now.Unix() - 31})), accesstoken.ErrExpired},
		{"no exp", sign(t, ec, es, claims(map[string]any{"exp": nil})), accesstoken.ErrClaims},
		{"not yet valid", sign(t, ec, es, claims(map[string]any{"nbf": now.Unix() + 60})), accesstoken.ErrNotYetValid},
		{"issued in the future", sign(t, ec, es, claims(map[string]any{"iat": now.Unix() + 60})), accesstoken.ErrIssuedFuture},
		{"no sub", sign(t, ec, es, claims(map[string]any{"sub": nil})), accesstoken.ErrClaims},
		{"no jti", sign(t, ec, es, claims(map[string]any{"jti": nil})), accesstoken.ErrClaims},
		{"no client_id", sign(t, ec, es, claims(map[string]any{"client_id": nil})), accesstoken.ErrClaims},
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

// TestVerifyRefusesAmbiguousJSON: a signed header or claims set that two
// JSON readers could understand differently is refused — a duplicate
// member (the first wins in some readers, the last in others), also when
// one of the two is spelled with an escape — and member names match
// exactly, so a case variant of a claim is just an unknown member. Every
// token here is properly signed: only its JSON is in question.
func TestVerifyRefusesAmbiguousJSON(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Unix(1_800_000_000, 0)
	v := accesstoken.New(accesstoken.Config{Keys: keySet{"ec": {ID: "ec", Alg: accesstoken.ES256, Public: &ec.PublicKey}},
		Issuer: "https://idp", Audience: "agentidp", Skew: 30 * time.Second, Now: func() time.Time { return now }})
	const header = `{"alg":"ES256","kid":"ec","typ":"at+jwt"}`
	const claims = `{"iss":"https://idp","sub":"agent-1","aud":"agentidp","exp":1800000600,"iat":1799999990,"jti":"j-1","client_id":"agent-1","scope":"agents:read"}`
	withClaim := func(member string) string { return strings.Replace(claims, `"scope"`, member+`,"scope"`, 1) }
	tests := []struct {
		name           string
		header, claims string
		want           error
		sub            string // of an accepted token
	}{
		{"plain", header, claims, nil, "agent-1"},
		{"duplicate alg", `{"alg":"ES256","kid":"ec","typ":"at+jwt","alg":"ES256"}`, claims, accesstoken.ErrMalformed, ""},
		{"duplicate alg, none last", `{"alg":"ES256","kid":"ec","typ":"at+jwt","alg":"none"}`, claims, accesstoken.ErrMalformed, ""},
		{"duplicate typ", `{"alg":"ES256","kid":"ec","typ":"JWT","typ":"at+jwt"}`, claims, accesstoken.ErrMalformed, ""},
		{"duplicate kid", `{"alg":"ES256","kid":"other","typ":"at+jwt","kid":"ec"}`, claims, accesstoken.ErrMalformed, ""},
		{"duplicate crit", `{"alg":"ES256","kid":"ec","typ":"at+jwt","crit":["b64"],"crit":null}`, claims, accesstoken.ErrMalformed, ""},
		{"escaped duplicate in the header", `{"alg":"ES256","kid":"ec","typ":"at+jwt","\u0061lg":"ES256"}`, claims, accesstoken.ErrMalformed, ""},
		{"duplicate sub", header, withClaim(`"sub":"admin"`), accesstoken.ErrMalformed, ""},
		{"duplicate sub, same value", header, withClaim(`"sub":"agent-1"`), accesstoken.ErrMalformed, ""},
		{"duplicate iss", header, withClaim(`"iss":"https://evil"`), accesstoken.ErrMalformed, ""},
		{"duplicate aud", header, withClaim(`"aud":"billing"`), accesstoken.ErrMalformed, ""},
		{"duplicate exp", header, withClaim(`"exp":4000000000`), accesstoken.ErrMalformed, ""},
		{"duplicate owner", header, strings.Replace(claims, `"scope"`, `"owner":"a","owner":"b","scope"`, 1), accesstoken.ErrMalformed, ""},
		{"escaped duplicate sub", header, withClaim(`"s\u0075b":"admin"`), accesstoken.ErrMalformed, ""},
		{"duplicate unknown member", header, withClaim(`"x":1,"x":2`), accesstoken.ErrMalformed, ""},
		{"case variant of sub", header, withClaim(`"SUB":"admin"`), nil, "agent-1"},
		{"case variant instead of iss", header, strings.Replace(claims, `"iss"`, `"ISS"`, 1), accesstoken.ErrIssuer, ""},
		{"case variant instead of kid", `{"alg":"ES256","Kid":"ec","typ":"at+jwt"}`, claims, accesstoken.ErrUnknownKey, ""},
		{"b64 header", `{"alg":"ES256","kid":"ec","typ":"at+jwt","b64":true}`, claims, accesstoken.ErrMalformed, ""},
		{"crit null", `{"alg":"ES256","kid":"ec","typ":"at+jwt","crit":null}`, claims, nil, "agent-1"},
		{"crit empty", `{"alg":"ES256","kid":"ec","typ":"at+jwt","crit":[]}`, claims, accesstoken.ErrMalformed, ""},
		{"exp as a string", header, strings.Replace(claims, `1800000600`, `"1800000600"`, 1), accesstoken.ErrMalformed, ""},
		{"exp with a fraction", header, strings.Replace(claims, `1800000600`, `1800000600.5`, 1), accesstoken.ErrMalformed, ""},
		{"exp with an exponent", header, strings.Replace(claims, `1800000600`, `18000006e2`, 1), accesstoken.ErrMalformed, ""},
		{"exp out of range", header, strings.Replace(claims, `1800000600`, `180000060000`, 1), accesstoken.ErrClaims, ""},
		{"negative nbf", header, withClaim(`"nbf":-1`), accesstoken.ErrMalformed, ""},
		{"claims not an object", header, `[` + claims + `]`, accesstoken.ErrMalformed, ""},
		{"claims null", header, `null`, accesstoken.ErrClaims, ""},
		{"trailing data", header, claims + ` {}`, accesstoken.ErrMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), signRaw(t, ec, tt.header, tt.claims))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil && c.Subject != tt.sub {
				t.Fatalf("sub %q, want %q", c.Subject, tt.sub)
			}
		})
	}
}

// TestVerifyCanonicalEncoding: a signed token has one spelling. go-jose
// decodes base64url leniently and checks the signature over its own
// re-encoding, so a segment with a line break or with stray bits after its
// last byte would otherwise verify as the token it decodes to.
func TestVerifyCanonicalEncoding(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Unix(1_800_000_000, 0)
	v := accesstoken.New(accesstoken.Config{Keys: keySet{"ec": {ID: "ec", Alg: accesstoken.ES256, Public: &ec.PublicKey}},
		Issuer: "https://idp", Audience: "agentidp", Skew: 30 * time.Second, Now: func() time.Time { return now }})
	// 41 bytes of header: 55 characters, the last carrying 2 stray bits.
	header := `{"alg":"ES256","kid":"ec","typ":"at+jwt"}`
	claims := `{"iss":"https://idp","sub":"agent-1","aud":"agentidp","exp":1800000600,"iat":1799999990,"jti":"j-1","client_id":"agent-1"}`
	for len(enc.EncodeToString([]byte(claims)))%4 != 2 { // 4 stray bits in the payload's last character
		claims = strings.Replace(claims, `"jti":"j-1`, `"jti":"j-1x`, 1)
	}
	good := signRaw(t, ec, header, claims)
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	stray := func(seg string) string { // the same bytes, another spelling
		last := strings.IndexByte(alphabet, seg[len(seg)-1])
		return seg[:len(seg)-1] + string(alphabet[last^1])
	}
	if len(parts[0])%4 != 3 {
		t.Fatalf("header of %d characters", len(parts[0]))
	}
	for _, tt := range []struct{ name, token string }{
		{"stray bits in the header", stray(parts[0]) + "." + parts[1] + "." + parts[2]},
		{"stray bits in the payload", parts[0] + "." + stray(parts[1]) + "." + parts[2]},
		{"line break in the header", parts[0][:10] + "\n" + parts[0][10:] + "." + parts[1] + "." + parts[2]},
		{"line break in the payload", parts[0] + "." + parts[1][:10] + "\r\n" + parts[1][10:] + "." + parts[2]},
		{"padding on the payload", parts[0] + "." + parts[1] + "==." + parts[2]},
		{"standard alphabet", parts[0] + "." + parts[1] + ".+" + parts[2][1:]},
		{"space", " " + good},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := v.Verify(context.Background(), tt.token); !errors.Is(err, accesstoken.ErrMalformed) {
				t.Fatalf("err = %v, want %v", err, accesstoken.ErrMalformed)
			}
		})
	}
}
