package accesstoken_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/accesstoken"
)

// fuzzVerifier is a verifier over one ES256 and one EdDSA key, at a fixed
// time, and a signer for inputs the fuzz target builds.
type fuzzVerifier struct {
	v   *accesstoken.Verifier
	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
	now time.Time
}

func newFuzzVerifier(f *testing.F) *fuzzVerifier {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	fv := &fuzzVerifier{ec: ec, ed: ed, now: time.Unix(1_800_000_000, 0)}
	keys := keySet{
		"ec": {ID: "ec", Alg: accesstoken.ES256, Public: &ec.PublicKey},
		"ed": {ID: "ed", Alg: accesstoken.EdDSA, Public: ed.Public()},
	}
	fv.v = accesstoken.New(accesstoken.Config{Keys: keys, Issuer: "https://idp", Audience: "agentidp", Skew: 30 * time.Second,
		Now: func() time.Time { return fv.now }})
	return fv
}

// signInput signs header.payload (already base64url) with the key the
// header names, or the EC key.
func (fv *fuzzVerifier) signInput(input string, ed bool) string {
	var sig []byte
	if ed {
		sig = ed25519.Sign(fv.ed, []byte(input))
	} else {
		d := sha256.Sum256([]byte(input))
		r, s, _ := ecdsa.Sign(rand.Reader, fv.ec, d[:])
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	}
	return input + "." + enc.EncodeToString(sig)
}

var documentedErrors = []error{accesstoken.ErrMalformed, accesstoken.ErrType, accesstoken.ErrAlgorithm, accesstoken.ErrUnknownKey,
	accesstoken.ErrSignature, accesstoken.ErrIssuer, accesstoken.ErrAudience, accesstoken.ErrExpired, accesstoken.ErrNotYetValid,
	accesstoken.ErrIssuedFuture, accesstoken.ErrClaims}

func checkDocumented(t *testing.T, err error) {
	t.Helper()
	for _, e := range documentedErrors {
		if errors.Is(err, e) {
			return
		}
	}
	t.Fatalf("Verify error %v is not one of the documented refusals", err)
}

var fuzzClaims = `{"iss":"https://idp","sub":"agent-1","aud":"agentidp","exp":1800000600,"iat":1799999990,"jti":"j-1","client_id":"agent-1","scope":"agents:read","credential_id":"c-1"}`

// FuzzVerify feeds raw bearer tokens. Whatever the bytes, the answer is a
// documented refusal or claims whose header and payload are exactly those
// of a token signed here (only the signature of an ECDSA token may differ:
// s and n-s both verify); no forged header, payload or algorithm passes.
func FuzzVerify(f *testing.F) {
	fv := newFuzzVerifier(f)
	signed := map[string]bool{}
	add := func(header, claims string, ed bool) {
		input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
		signed[input] = true
		f.Add(fv.signInput(input, ed))
	}
	add(`{"alg":"ES256","kid":"ec","typ":"at+jwt"}`, fuzzClaims, false)
	add(`{"alg":"EdDSA","kid":"ed","typ":"at+jwt"}`, fuzzClaims, true)
	add(`{"alg":"ES256","kid":"ec","typ":"application/AT+JWT","crit":null}`, strings.Replace(fuzzClaims, `"aud":"agentidp"`, `"aud":["x","agentidp"]`, 1), false)
	add(`{"alg":"ES256","kid":"ec","typ":"at+jwt"}`, strings.Replace(fuzzClaims, `"exp":1800000600`, `"exp":1800000600.5,"nbf":1799999999`, 1), false)
	add(`{"alg":"none","kid":"ec","typ":"at+jwt"}`, fuzzClaims, false)
	add(`{"alg":"ES256","kid":"ed","typ":"at+jwt"}`, fuzzClaims, true)
	add(`{"alg":"ES256","kid":"ec","typ":"JWT"}`, fuzzClaims, false)
	add(`{"alg":"ES256","kid":"ec","typ":"at+jwt","crit":["exp"]}`, fuzzClaims, false)
	add(`{"alg":"ES256","kid":"ec","typ":"at+jwt"}`, strings.Replace(fuzzClaims, `"iss":"https://idp"`, `"iss":"https://idp/"`, 1), false)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add(strings.Repeat("A", accesstoken.MaxLength+1))
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := fv.v.Verify(context.Background(), raw)
		if err != nil {
			checkDocumented(t, err)
			return
		}
		if !signed[raw[:strings.LastIndexByte(raw, '.')]] {
			t.Fatalf("accepted a header and payload nobody signed: %q", raw)
		}
		checkAccepted(t, fv, c)
	})
}

// FuzzVerifyClaims signs whatever header and payload the fuzzer writes
// with the real keys, so that the claim checks after the signature are
// exercised: an accepted token has a header and claims the documented
// rules allow, checked here against encoding/json's own reading, and no
// duplicate member (which another reader might take differently).
func FuzzVerifyClaims(f *testing.F) {
	fv := newFuzzVerifier(f)
	for _, h := range []string{`{"alg":"ES256","kid":"ec","typ":"at+jwt"}`, `{"alg":"EdDSA","kid":"ed","typ":"at+jwt"}`,
		`{"alg":"ES256","kid":"ec","typ":"at+jwt","crit":[]}`, `{"alg":"ES256","kid":"ec","typ":"at+jwt","alg":"none"}`,
		`{"alg":"ES256","kid":"ec","typ":"at+jwt","typ":"JWT"}`, `{"alg":"ES256","kid":"ec","typ":"at+jwt","\u0074yp":"at+jwt"}`,
		`{"alg":"ES256","kid":"ec","typ":"at+jwt","b64":false,"crit":["b64"]}`} {
		f.Add(h, fuzzClaims)
	}
	for _, c := range []string{
		strings.Replace(fuzzClaims, `"exp":1800000600`, `"exp":"1800000600"`, 1),
		strings.Replace(fuzzClaims, `"exp":1800000600`, `"exp":1e300`, 1),
		strings.Replace(fuzzClaims, `"exp":1800000600`, `"exp":-1`, 1),
		strings.Replace(fuzzClaims, `"aud":"agentidp"`, `"aud":["agentidp",7]`, 1),
		strings.Replace(fuzzClaims, `"aud":"agentidp"`, `"aud":{"agentidp":true}`, 1),
		strings.Replace(fuzzClaims, `"sub":"agent-1"`, `"sub":"agent-1","sub":""`, 1),
		strings.Replace(fuzzClaims, `"iss":"https://idp"`, `"iss":"https://idp","iss":"https://evil"`, 1),
		strings.Replace(fuzzClaims, `"sub":"agent-1"`, `"sub":"agent-1","s\u0075b":"admin"`, 1),
		strings.Replace(fuzzClaims, `"sub":"agent-1"`, `"sub":"agent-1","SUB":"admin"`, 1),
		strings.Replace(fuzzClaims, `"scope":"agents:read"`, `"scope":"agents:read","scope":"agents:write"`, 1),
		strings.Replace(fuzzClaims, `"iat":1799999990`, `"iat":1799999990,"nbf":0`, 1),
		fuzzClaims + " trailing",
		`[` + fuzzClaims + `]`,
		`{"iss":"https://idp"}`,
	} {
		f.Add(`{"alg":"ES256","kid":"ec","typ":"at+jwt"}`, c)
	}
	f.Fuzz(func(t *testing.T, header, claims string) {
		var h struct{ Alg string }
		_ = json.Unmarshal([]byte(header), &h)
		input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
		c, err := fv.v.Verify(context.Background(), fv.signInput(input, h.Alg == "EdDSA"))
		if err != nil {
			checkDocumented(t, err)
			return
		}
		var hdr map[string]any
		if json.Unmarshal([]byte(header), &hdr) != nil {
			t.Fatalf("accepted a header that is not a JSON object: %q", header)
		}
		if duplicateMember(header) || duplicateMember(claims) {
			t.Fatalf("accepted a duplicate member: %q %q", header, claims)
		}
		typ, _ := hdr["typ"].(string)
		if typ = strings.ToLower(typ); typ != "at+jwt" && typ != "application/at+jwt" {
			t.Fatalf("accepted typ %v", hdr["typ"])
		}
		if (hdr["alg"] != "ES256" || hdr["kid"] != "ec") && (hdr["alg"] != "EdDSA" || hdr["kid"] != "ed") {
			t.Fatalf("accepted alg %v with kid %v", hdr["alg"], hdr["kid"])
		}
		if crit, ok := hdr["crit"]; ok && crit != nil {
			t.Fatalf("accepted a critical header %v", crit)
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(claims)))
		dec.UseNumber()
		var m map[string]any
		if dec.Decode(&m) != nil {
			t.Fatalf("accepted claims that are not a JSON object: %q", claims)
		}
		if m["iss"] != "https://idp" || c.Issuer != "https://idp" {
			t.Fatalf("accepted iss %v", m["iss"])
		}
		switch aud := m["aud"].(type) {
		case string:
			if aud != "agentidp" {
				t.Fatalf("accepted aud %q", aud)
			}
		case []any:
			found := false
			for _, a := range aud {
				found = found || a == "agentidp"
			}
			if !found {
				t.Fatalf("accepted aud %v", aud)
			}
		default:
			t.Fatalf("accepted aud %v", m["aud"])
		}
		for _, k := range []string{"sub", "jti", "client_id"} {
			if s, _ := m[k].(string); s == "" {
				t.Fatalf("accepted without %s: %q", k, claims)
			}
		}
		exp, err := m["exp"].(json.Number).Float64()
		if err != nil || exp < 0 || exp > math.MaxInt32*16 || int64(exp)+30 <= fv.now.Unix() {
			t.Fatalf("accepted exp %v", m["exp"])
		}
		checkAccepted(t, fv, c)
	})
}

// checkAccepted: the claims of an accepted token obey the rules.
func checkAccepted(t *testing.T, fv *fuzzVerifier, c *accesstoken.Verified) {
	t.Helper()
	now := fv.now.Unix()
	switch {
	case c.Issuer != "https://idp":
		t.Fatalf("issuer %q", c.Issuer)
	case c.Subject == "" || c.ID == "" || c.ClientID == "":
		t.Fatalf("claims without sub, jti or client_id: %+v", c)
	case now >= c.Expiry+30:
		t.Fatalf("expired at %d", c.Expiry)
	case c.NotBefore != 0 && now+30 < c.NotBefore:
		t.Fatalf("not valid before %d", c.NotBefore)
	case now+30 < c.IssuedAt:
		t.Fatalf("issued at %d", c.IssuedAt)
	}
	found := false
	for _, a := range c.Audience {
		found = found || a == "agentidp"
	}
	if !found {
		t.Fatalf("audience %v", c.Audience)
	}
	if strings.Join(c.Scopes, " ") != strings.Join(strings.Fields(c.Scope), " ") {
		t.Fatalf("scopes %q from %q", c.Scopes, c.Scope)
	}
}

// duplicateMember reports whether the JSON object doc names a member
// twice at its top level (names compared once unescaped).
func duplicateMember(doc string) bool {
	dec := json.NewDecoder(strings.NewReader(doc))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		name, _ := t.(string)
		if seen[name] {
			return true
		}
		seen[name] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return false
}
