// Package accesstoken is the one definition of the token service's access
// tokens — RFC 9068 JWTs — and the one verifier of them: the token service
// issues them (services/token/internal/issuer), authz and the token
// service's introspection and revocation verify them here, so that the two
// cannot disagree on what a valid token is.
package accesstoken

import (
	"crypto"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Claims are the claims of an access token (RFC 9068 §2.2) plus
// credential_id, the credential the client authenticated with, so that
// revoking a credential can end its tokens, and owner (docs/token.md). The
// token service marshals them to issue; Verify reads them.
//
// NumericDates are whole seconds: this issuer writes integers, and Verify
// refuses a string, a fraction or an exponent rather than guessing.
type Claims struct {
	Issuer    string       `json:"iss"`
	Subject   string       `json:"sub"` // the agent id
	Audience  jwt.Audience `json:"aud"`
	Expiry    int64        `json:"exp"`
	IssuedAt  int64        `json:"iat"`
	NotBefore int64        `json:"nbf,omitempty"` // 0: absent
	ID        string       `json:"jti"`
	ClientID  string       `json:"client_id"`
	// Scope is space-delimited, as granted.
	Scope        string `json:"scope,omitempty"`
	CredentialID string `json:"credential_id,omitempty"`
	// Owner is the agent's owner (tenant) when the token was issued (""
	// in tokens issued before owners were tenants).
	Owner string `json:"owner,omitempty"`
}

// Verified is a token that passed Verify: its claims, the key that signed
// it and its scopes, split once.
type Verified struct {
	Claims
	KeyID  string
	Scopes []string
}

// NewVerified builds a Verified (Verify does; tests and caches may too).
func NewVerified(c Claims, kid string) *Verified {
	return &Verified{Claims: c, KeyID: kid, Scopes: strings.Fields(c.Scope)}
}

// TokenType is the JWS typ header of access tokens (RFC 9068 §2.1).
const TokenType = "at+jwt"

// IsTokenType accepts "at+jwt" and "application/at+jwt" (RFC 9068 §4),
// case-insensitively (media types are).
func IsTokenType(typ string) bool {
	return strings.EqualFold(typ, TokenType) || strings.EqualFold(typ, "application/"+TokenType)
}

// Algorithms the token service may sign with: ES256 by default, EdDSA
// optionally. Nothing else is ever accepted: not "none", not HMAC (whose
// "key" would be the public JWKS), not RSA.
const (
	ES256 = string(jose.ES256)
	EdDSA = string(jose.EdDSA)
)

var algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA}

// Key is a published verification key.
type Key struct {
	ID string
	// Alg is ES256 (a P-256 key) or EdDSA (Ed25519): the key's type fixes
	// it, and a token's alg header must name it.
	Alg    string
	Public crypto.PublicKey
}
