// Package accesstoken issues and verifies the service's access tokens: JWTs
// per RFC 9068 (typ at+jwt) signed with the current key of internal/keys;
// verification goes through go-jose.
package accesstoken

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/sentryagent/agentidp/services/token/internal/keys"
)

// Claims are the claims of an access token (RFC 9068 §2.2) plus
// credential_id, the credential the client authenticated with, so that
// revoking a credential can end its tokens (see docs/token.md).
type Claims struct {
	Issuer       string       `json:"iss"`
	Subject      string       `json:"sub"`
	Audience     jwt.Audience `json:"aud"`
	Expiry       int64        `json:"exp"`
	IssuedAt     int64        `json:"iat"`
	NotBefore    int64        `json:"nbf,omitempty"`
	ID           string       `json:"jti"`
	ClientID     string       `json:"client_id"`
	Scope        string       `json:"scope,omitempty"`
	CredentialID string       `json:"credential_id,omitempty"`
	// Owner is the agent's owner (tenant) when the token was issued.
	Owner string `json:"owner,omitempty"`
}

// KeySource is where the current keys come from (a *keys.Manager).
type KeySource interface {
	Set() *keys.Set
}

// Codec signs and verifies tokens.
type Codec struct {
	keys     KeySource
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
}

// Config configures a Codec.
type Config struct {
	Keys     KeySource
	Issuer   string
	Audience string
	TTL      time.Duration
	Now      func() time.Time // default time.Now
}

// New returns a codec.
func New(cfg Config) *Codec {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Codec{keys: cfg.Keys, issuer: cfg.Issuer, audience: cfg.Audience, ttl: cfg.TTL, now: cfg.Now}
}

// Subject is who a token is for.
type Subject struct {
	AgentID      string
	ClientID     string
	CredentialID string
	Scope        string // space-delimited
	Owner        string
}

// Issue signs a token for s; it returns the compact JWS and its claims.
func (c *Codec) Issue(s Subject) (string, Claims, error) {
	set := c.keys.Set()
	if set == nil {
		return "", Claims{}, errors.New("accesstoken: no signing key loaded")
	}
	now := c.now()
	jti, err := newJTI()
	if err != nil {
		return "", Claims{}, err
	}
	claims := Claims{
		Issuer: c.issuer, Subject: s.AgentID, Audience: jwt.Audience{c.audience},
		IssuedAt: now.Unix(), Expiry: now.Add(c.ttl).Unix(), ID: jti,
		ClientID: s.ClientID, Scope: s.Scope, CredentialID: s.CredentialID, Owner: s.Owner,
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", Claims{}, err
	}
	// The header is fixed per key: keys.Key.SignCompact (see its doc for
	// why not go-jose's signer on this path).
	token, err := set.Signing(now).SignCompact(payload)
	if err != nil {
		return "", Claims{}, fmt.Errorf("accesstoken: sign: %w", err)
	}
	return token, claims, nil
}

// TTL is the lifetime of issued tokens.
func (c *Codec) TTL() time.Duration { return c.ttl }

// ErrInvalid: not a token this service issued (malformed, unknown key,
// bad signature, wrong typ or issuer). Expiry is not checked here.
var ErrInvalid = errors.New("accesstoken: not a valid token of this issuer")

var algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA}

// Verify checks the token's signature against the published keys, its typ
// header and its issuer, and returns its claims. The caller decides what
// expiry and revocation mean for it.
func (c *Codec) Verify(token string) (Claims, error) {
	set := c.keys.Set()
	if set == nil || len(token) > 8192 {
		return Claims{}, ErrInvalid
	}
	jws, err := jose.ParseSignedCompact(token, algorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return Claims{}, ErrInvalid
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !isATJWT(typ) {
		return Claims{}, ErrInvalid
	}
	key, ok := set.Lookup(h.KeyID)
	if !ok || string(key.Alg) != h.Algorithm {
		return Claims{}, ErrInvalid
	}
	payload, err := jws.Verify(key.Public)
	if err != nil {
		return Claims{}, ErrInvalid
	}
	var claims Claims
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Issuer != c.issuer || claims.ID == "" {
		return Claims{}, ErrInvalid
	}
	return claims, nil
}

// isATJWT accepts "at+jwt" and "application/at+jwt" (RFC 9068 §4),
// case-insensitively.
func isATJWT(typ string) bool {
	typ = strings.ToLower(typ)
	return typ == keys.TokenType || typ == "application/"+keys.TokenType
}

// newJTI is 128 random bits, base64url.
func newJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
