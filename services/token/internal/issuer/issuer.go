// Package issuer issues the service's access tokens: libs/accesstoken's
// Claims, signed with the current key of internal/keys. Verifying them is
// libs/accesstoken's, over the keys this service publishes (Keys).
package issuer

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/sentryagent/agentidp/libs/accesstoken"
	"github.com/sentryagent/agentidp/services/token/internal/keys"
)

// KeySource is where the current keys come from (a *keys.Manager).
type KeySource interface {
	Set() *keys.Set
}

// Issuer signs tokens.
type Issuer struct {
	keys     KeySource
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
}

// Config configures an Issuer.
type Config struct {
	Keys     KeySource
	Issuer   string
	Audience string
	TTL      time.Duration
	Now      func() time.Time // default time.Now
}

// New returns an issuer.
func New(cfg Config) *Issuer {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Issuer{keys: cfg.Keys, issuer: cfg.Issuer, audience: cfg.Audience, ttl: cfg.TTL, now: cfg.Now}
}

// Subject is who a token is for.
type Subject struct {
	AgentID      string
	ClientID     string
	CredentialID string
	Scope        string // space-delimited
	Owner        string
}

// ErrUnavailable: the signer (Vault transit) could not sign. The token
// endpoint answers 503; no other key signs in its place.
var ErrUnavailable = keys.ErrSignerUnavailable

// Issue signs a token for s; it returns the compact JWS and its claims.
// ctx bounds a remote signature (Vault transit).
func (i *Issuer) Issue(ctx context.Context, s Subject) (string, accesstoken.Claims, error) {
	set := i.keys.Set()
	if set == nil {
		return "", accesstoken.Claims{}, errors.New("issuer: no signing key loaded")
	}
	now := i.now()
	jti, err := newJTI()
	if err != nil {
		return "", accesstoken.Claims{}, err
	}
	claims := accesstoken.Claims{
		Issuer: i.issuer, Subject: s.AgentID, Audience: jwt.Audience{i.audience},
		IssuedAt: now.Unix(), Expiry: now.Add(i.ttl).Unix(), ID: jti,
		ClientID: s.ClientID, Scope: s.Scope, CredentialID: s.CredentialID, Owner: s.Owner,
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", accesstoken.Claims{}, err
	}
	// The header is fixed per key: keys.Key.SignCompact (see its doc for
	// why not go-jose's signer on this path).
	key := set.Signing(now)
	if key == nil {
		return "", accesstoken.Claims{}, errors.New("issuer: no signing key loaded")
	}
	token, err := key.SignCompact(ctx, payload)
	if err != nil {
		return "", accesstoken.Claims{}, fmt.Errorf("issuer: sign: %w", err)
	}
	return token, claims, nil
}

// Keys is what libs/accesstoken verifies this service's tokens with: the
// keys it publishes (a retired key stays published, and its tokens valid,
// until they have all expired; see internal/keys). The set is this
// process's own, so there is nothing to refresh.
type Keys struct{ Source KeySource }

// LookupOrRefresh finds the published key kid.
func (k Keys) LookupOrRefresh(_ context.Context, kid string) (accesstoken.Key, bool) {
	set := k.Source.Set()
	if set == nil {
		return accesstoken.Key{}, false // no keys loaded yet
	}
	key, ok := set.Lookup(kid)
	if !ok {
		return accesstoken.Key{}, false
	}
	return accesstoken.Key{ID: key.KID, Alg: string(key.Alg), Public: key.Public}, true
}

// newJTI is 128 random bits, base64url.
func newJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
