// Package token verifies the token service's access tokens: RFC 9068 JWTs
// (typ at+jwt) signed with a key of its JWKS, with an algorithm allow-list
// and the registered claims checked with a small clock skew.
package token

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/sentryagent/agentidp/services/authz/internal/jwks"
)

// Claims are the verified claims of an access token.
type Claims struct {
	Issuer       string
	Subject      string // the agent id
	Audience     []string
	Expiry       int64 // unix seconds
	NotBefore    int64 // 0 when absent
	IssuedAt     int64
	ID           string // jti
	ClientID     string
	Scope        string // space-delimited, as issued
	Scopes       []string
	CredentialID string
	// Owner is the agent's owner when the token was issued ("" in tokens
	// issued before owners were tenants).
	Owner string
	KeyID string
}

// Error is why a token was refused. Its text goes to the client (RFC 6750
// error_description), so it says what is wrong without echoing the token.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

// Reasons a token is refused.
var (
	ErrMalformed    = &Error{"the access token is not a well-formed JWT"}
	ErrType         = &Error{"the access token is not of type at+jwt"}
	ErrAlgorithm    = &Error{"the access token's signing algorithm is not accepted"}
	ErrUnknownKey   = &Error{"the access token was signed by an unknown key"}
	ErrSignature    = &Error{"the access token's signature is invalid"}
	ErrIssuer       = &Error{"the access token was not issued by this server"}
	ErrAudience     = &Error{"the access token is not meant for this audience"}
	ErrExpired      = &Error{"the access token expired"}
	ErrNotYetValid  = &Error{"the access token is not valid yet"}
	ErrIssuedFuture = &Error{"the access token was issued in the future"}
	ErrClaims       = &Error{"the access token lacks required claims"}
)

// Keys finds verification keys (a *jwks.Cache).
type Keys interface {
	LookupOrRefresh(ctx context.Context, kid string) (jwks.Key, bool)
}

// Config configures a Verifier.
type Config struct {
	Keys     Keys
	Issuer   string
	Audience string
	// Skew is the clock difference tolerated on exp, nbf and iat.
	Skew time.Duration
	Now  func() time.Time
}

// Verifier checks tokens.
type Verifier struct {
	cfg Config
}

// New returns a verifier.
func New(cfg Config) *Verifier {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{cfg: cfg}
}

// MaxLength bounds a token (a JWT of this service is well under 1 KiB).
const MaxLength = 8192

type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

type payload struct {
	Iss          string          `json:"iss"`
	Sub          string          `json:"sub"`
	Aud          json.RawMessage `json:"aud"`
	Exp          json.RawMessage `json:"exp"`
	Nbf          json.RawMessage `json:"nbf"`
	Iat          json.RawMessage `json:"iat"`
	Jti          string          `json:"jti"`
	ClientID     string          `json:"client_id"`
	Scope        string          `json:"scope"`
	CredentialID string          `json:"credential_id"`
	Owner        string          `json:"owner"`
}

var b64 = base64.RawURLEncoding.Strict()

// The members header and payload read. JOSE and JWT names are
// case-sensitive (RFC 7515 §4, RFC 7519 §4), encoding/json's matching is
// not: exactNames refuses "Kid" or "ISS" standing in for them.
var (
	headerNames  = []string{"alg", "kid", "typ", "crit"}
	payloadNames = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "credential_id", "owner"}
)

// exactNames reports whether no top-level member of the JSON object raw is
// a case variant of one of names.
func exactNames(raw []byte, names []string) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		key, _ := t.(string)
		for _, n := range names {
			if key != n && strings.EqualFold(key, n) {
				return false
			}
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return true
}

// Verify checks a compact JWS and returns its claims: signature by a
// published key with an allowed algorithm matching the key's type, typ
// at+jwt, no critical extensions, iss, aud, exp/nbf/iat (with skew) and
// the presence of sub, jti and client_id.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) == 0 || len(raw) > MaxLength {
		return nil, ErrMalformed
	}
	dot1 := strings.IndexByte(raw, '.')
	dot2 := strings.LastIndexByte(raw, '.')
	if dot1 <= 0 || dot2 == dot1 || strings.IndexByte(raw[dot1+1:dot2], '.') >= 0 {
		return nil, ErrMalformed
	}
	hdrJSON, err := b64.DecodeString(raw[:dot1])
	if err != nil {
		return nil, ErrMalformed
	}
	var h header
	if err := json.Unmarshal(hdrJSON, &h); err != nil || !exactNames(hdrJSON, headerNames) {
		return nil, ErrMalformed
	}
	if h.Alg != jwks.ES256 && h.Alg != jwks.EdDSA {
		return nil, ErrAlgorithm
	}
	if len(h.Crit) > 0 && !bytes.Equal(h.Crit, []byte("null")) {
		return nil, ErrMalformed // we understand no critical extension (RFC 7515 §4.1.11)
	}
	if !isATJWT(h.Typ) {
		return nil, ErrType
	}
	sig, err := b64.DecodeString(raw[dot2+1:])
	if err != nil {
		return nil, ErrMalformed
	}
	if h.Kid == "" {
		return nil, ErrUnknownKey
	}
	key, ok := v.cfg.Keys.LookupOrRefresh(ctx, h.Kid)
	if !ok {
		return nil, ErrUnknownKey
	}
	if key.Alg != h.Alg {
		return nil, ErrAlgorithm // the header may not choose another algorithm than the key's
	}
	if !verifySignature(key, raw[:dot2], sig) {
		return nil, ErrSignature
	}
	body, err := b64.DecodeString(raw[dot1+1 : dot2])
	if err != nil {
		return nil, ErrMalformed
	}
	return v.claims(body, h.Kid)
}

func (v *Verifier) claims(body []byte, kid string) (*Claims, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var p payload
	if err := dec.Decode(&p); err != nil || !exactNames(body, payloadNames) {
		return nil, ErrMalformed
	}
	c := &Claims{Issuer: p.Iss, Subject: p.Sub, ID: p.Jti, ClientID: p.ClientID, Scope: p.Scope,
		CredentialID: p.CredentialID, Owner: p.Owner, KeyID: kid}
	var err error
	if c.Audience, err = audience(p.Aud); err != nil {
		return nil, ErrMalformed
	}
	if c.Expiry, err = seconds(p.Exp, true); err != nil {
		return nil, ErrClaims
	}
	if c.IssuedAt, err = seconds(p.Iat, true); err != nil {
		return nil, ErrClaims
	}
	if c.NotBefore, err = seconds(p.Nbf, false); err != nil {
		return nil, ErrMalformed
	}
	if c.Issuer != v.cfg.Issuer {
		return nil, ErrIssuer
	}
	if !contains(c.Audience, v.cfg.Audience) {
		return nil, ErrAudience
	}
	now := v.cfg.Now()
	skew := int64(v.cfg.Skew / time.Second)
	switch {
	case now.Unix() >= c.Expiry+skew:
		return nil, ErrExpired
	case c.NotBefore != 0 && now.Unix()+skew < c.NotBefore:
		return nil, ErrNotYetValid
	case now.Unix()+skew < c.IssuedAt:
		return nil, ErrIssuedFuture
	case c.Subject == "" || c.ID == "" || c.ClientID == "":
		return nil, ErrClaims
	}
	c.Scopes = strings.Fields(c.Scope)
	return c, nil
}

// Valid reports whether cached claims are still within their lifetime.
func (v *Verifier) Valid(c *Claims) error {
	if v.cfg.Now().Unix() >= c.Expiry+int64(v.cfg.Skew/time.Second) {
		return ErrExpired
	}
	return nil
}

func verifySignature(k jwks.Key, signingInput string, sig []byte) bool {
	switch pub := k.Public.(type) {
	case *ecdsa.PublicKey:
		// RFC 7518 §3.4: R and S as two 32-byte big-endian integers.
		if len(sig) != 64 {
			return false
		}
		digest := sha256.Sum256([]byte(signingInput))
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(pub, digest[:], r, s)
	case ed25519.PublicKey:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, []byte(signingInput), sig)
	}
	return false
}

// isATJWT accepts "at+jwt" and "application/at+jwt" (RFC 9068 §4),
// case-insensitively.
func isATJWT(typ string) bool {
	typ = strings.ToLower(typ)
	return typ == "at+jwt" || typ == "application/at+jwt"
}

func audience(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return []string{s}, err
	}
	var list []string
	err := json.Unmarshal(raw, &list)
	return list, err
}

// seconds reads a NumericDate (RFC 7519 §2): a JSON number, which may have
// a fraction — not a string holding one, which json.Number would take.
func seconds(raw json.RawMessage, required bool) (int64, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		if required {
			return 0, errors.New("missing")
		}
		return 0, nil
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, errors.New("not a number")
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f < 0 || f > math.MaxInt32*16 {
		return 0, errors.New("not a date")
	}
	return int64(f), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
