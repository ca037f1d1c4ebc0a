// Package keys holds the token service's signing keys: their stored form,
// the rotation schedule (pre-publication and retention), and the in-memory
// set every replica signs with and publishes as JWKS.
package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Algorithms a key may have. ES256 is the default (docs/token.md).
const (
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// Doc is what the key store keeps: every key still published, and the
// HMAC key of the client-authentication cache. It holds private keys, so
// it lives in Vault or in a file encrypted with KEY_ENCRYPTION_KEY.
type Doc struct {
	// CacheKey keys the HMAC that names cached client authentications
	// (32 random bytes, created with the first key).
	CacheKey []byte      `json:"cache_key"`
	Keys     []StoredKey `json:"keys"`
	// SigningStoppedAt is when another signer (Vault transit) took over:
	// the stored keys stay published for Retention after it, then go.
	SigningStoppedAt *time.Time `json:"signing_stopped_at,omitempty"`
}

// StoredKey is one signing key.
type StoredKey struct {
	KID string `json:"kid"`
	Alg string `json:"alg"`
	// ActiveFrom is when the key starts signing. Every replica signs with
	// the key whose ActiveFrom is the latest one not in the future; a key
	// is published (JWKS) from the moment it is stored.
	ActiveFrom time.Time `json:"active_from"`
	CreatedAt  time.Time `json:"created_at"`
	// PrivateKey is PKCS #8 DER.
	PrivateKey []byte `json:"private_key_pkcs8"`
}

// ErrConflict: the store changed since it was loaded (another replica
// wrote first). Load again and replan.
var ErrConflict = errors.New("keys: the key store changed concurrently")

// Store keeps the Doc with optimistic concurrency: Save succeeds only if
// the stored version is still the one Load returned (else ErrConflict, and
// nothing is written); a version is never reused. Version 0 means "nothing
// stored yet". Implementations must pass storetest's suite.
type Store interface {
	Load(ctx context.Context) (doc Doc, version int64, err error)
	Save(ctx context.Context, doc Doc, version int64) error
}

// Policy is the rotation schedule.
type Policy struct {
	// Alg of the keys to create; "" when another signer (Vault transit)
	// signs: the store then keeps the cache key only, and withdraws the
	// keys it still holds once every token they signed has expired.
	Alg string
	// Interval is how long a key signs before the next one takes over.
	Interval time.Duration
	// Prepublish is how long a key is published before it signs; at least
	// the JWKS cache lifetime plus the replicas' reload interval.
	Prepublish time.Duration
	// Retention is how long a key stays published after it stopped
	// signing: the longest token lifetime plus the reload interval and a
	// clock-skew margin.
	Retention time.Duration
}

// Plan returns doc brought up to date at now: a first key (active at once)
// when there is none; a next key, published Prepublish before it signs,
// when the current one is due for rotation within Prepublish; and without
// the keys that stopped signing more than Retention ago. It is
// deterministic given its inputs, so replicas that race agree, and the
// store's check-and-set makes one of them win.
func Plan(doc Doc, now time.Time, p Policy) (Doc, bool, error) {
	out := Doc{CacheKey: doc.CacheKey, Keys: slices.Clone(doc.Keys), SigningStoppedAt: doc.SigningStoppedAt}
	slices.SortStableFunc(out.Keys, func(a, b StoredKey) int { return a.ActiveFrom.Compare(b.ActiveFrom) })
	changed := false
	if len(out.CacheKey) == 0 {
		out.CacheKey = make([]byte, 32)
		if _, err := rand.Read(out.CacheKey); err != nil {
			return doc, false, err
		}
		changed = true
	}
	if p.Alg == "" {
		return planStopped(out, changed, now, p)
	}
	if out.SigningStoppedAt != nil {
		// Signing here again after a remote signer: the keys that are
		// left rotate as usual (a missing one is created below).
		out.SigningStoppedAt = nil
		changed = true
	}
	if len(out.Keys) == 0 {
		k, err := Generate(p.Alg, now, now)
		if err != nil {
			return doc, false, err
		}
		out.Keys = append(out.Keys, k)
		changed = true
	}
	last := out.Keys[len(out.Keys)-1]
	if !last.ActiveFrom.After(now) && !now.Before(last.ActiveFrom.Add(p.Interval-p.Prepublish)) {
		// The newest key signs and is due: publish its successor now.
		from := last.ActiveFrom.Add(p.Interval)
		if earliest := now.Add(p.Prepublish); from.Before(earliest) {
			// After a long outage: never sign with an unpublished key.
			from = earliest
		}
		k, err := Generate(p.Alg, from, now)
		if err != nil {
			return doc, false, err
		}
		out.Keys = append(out.Keys, k)
		changed = true
	}
	// A key stopped signing when its successor started; drop it once every
	// token it signed has expired.
	kept := out.Keys[:0:0]
	for i, k := range out.Keys {
		if i+1 < len(out.Keys) {
			next := out.Keys[i+1].ActiveFrom
			if !next.After(now) && !now.Before(next.Add(p.Retention)) {
				changed = true
				continue
			}
		}
		kept = append(kept, k)
	}
	out.Keys = kept
	return out, changed, nil
}

// planStopped is Plan when the stored keys no longer sign: the first plan
// records when they stopped, and once Retention has passed since (every
// token they signed has expired) they are withdrawn.
func planStopped(out Doc, changed bool, now time.Time, p Policy) (Doc, bool, error) {
	switch {
	case len(out.Keys) == 0:
		if out.SigningStoppedAt != nil {
			out.SigningStoppedAt = nil
			changed = true
		}
	case out.SigningStoppedAt == nil:
		at := now.UTC()
		out.SigningStoppedAt = &at
		changed = true
	case !now.Before(out.SigningStoppedAt.Add(p.Retention)):
		out.Keys, out.SigningStoppedAt = nil, nil
		changed = true
	}
	return out, changed, nil
}

// Generate creates a key of alg that signs from activeFrom.
func Generate(alg string, activeFrom, now time.Time) (StoredKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return StoredKey{}, fmt.Errorf("keys: unsupported algorithm %q", alg)
	}
	if err != nil {
		return StoredKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return StoredKey{}, err
	}
	kid, err := thumbprint(priv.Public())
	if err != nil {
		return StoredKey{}, err
	}
	return StoredKey{KID: kid, Alg: alg, ActiveFrom: activeFrom.UTC(), CreatedAt: now.UTC(), PrivateKey: der}, nil
}

// thumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url): a kid
// that anyone can recompute from the public key.
func thumbprint(pub crypto.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return b64(tp), nil
}
