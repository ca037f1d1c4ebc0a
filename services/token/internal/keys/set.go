package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/sentryagent/agentidp/libs/accesstoken"
)

// Key is a usable signing key.
type Key struct {
	KID        string
	Alg        jose.SignatureAlgorithm
	ActiveFrom time.Time
	Public     crypto.PublicKey
	// Signer signs JWS with the headers alg, kid and typ: at+jwt (RFC 9068)
	// through go-jose; SignCompact produces the same on the hot path. Nil
	// for a key whose private half is elsewhere (Vault transit).
	Signer  jose.Signer
	private crypto.Signer
	// remote signs when the private key never leaves Vault (RemoteKey).
	remote func(ctx context.Context, signingInput []byte) ([]byte, error)
	// verifyOnly: published so that the tokens it signed still verify, but
	// never chosen to sign (a stored key after switching to transit).
	verifyOnly bool
	header     string
}

// RemoteKey is a published key whose private half stays with a remote
// signer (Vault transit). Sign returns the JWS signature of the signing
// input (for ES256 the 64-byte R || S of RFC 7518 §3.4).
type RemoteKey struct {
	KID        string
	Alg        jose.SignatureAlgorithm
	ActiveFrom time.Time
	Public     crypto.PublicKey
	Sign       func(ctx context.Context, signingInput []byte) ([]byte, error)
}

// NewRemoteSet builds a set whose signing keys are remote. The keys of
// legacy (may be nil) are published too, so that tokens signed before the
// switch to the remote signer verify until they expire, but never sign.
func NewRemoteSet(cacheKey []byte, remote []RemoteKey, legacy *Set) (*Set, error) {
	if len(remote) == 0 {
		return nil, fmt.Errorf("keys: no remote signing key")
	}
	s := &Set{byKID: map[string]*Key{}, cacheKey: cacheKey}
	if legacy != nil {
		for _, k := range legacy.keys {
			c := *k
			c.verifyOnly = true
			s.keys = append(s.keys, &c)
		}
	}
	for _, rk := range remote {
		header, err := protectedHeader(string(rk.Alg), rk.KID)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, &Key{KID: rk.KID, Alg: rk.Alg, ActiveFrom: rk.ActiveFrom, Public: rk.Public,
			remote: rk.Sign, header: header})
	}
	slices.SortStableFunc(s.keys, func(a, b *Key) int { return a.ActiveFrom.Compare(b.ActiveFrom) })
	if err := s.index(); err != nil {
		return nil, err
	}
	return s, nil
}

// index fills byKID and the JWKS document from keys.
func (s *Set) index() error {
	var jwks jose.JSONWebKeySet
	for _, k := range s.keys {
		if _, dup := s.byKID[k.KID]; dup {
			return fmt.Errorf("keys: kid %s is published twice", k.KID)
		}
		s.byKID[k.KID] = k
		jwks.Keys = append(jwks.Keys, jose.JSONWebKey{Key: k.Public, KeyID: k.KID, Algorithm: string(k.Alg), Use: "sig"})
	}
	b, err := json.Marshal(jwks)
	if err != nil {
		return err
	}
	s.jwks = b
	sum := sha256.Sum256(b)
	s.etag = `"` + b64(sum[:12]) + `"`
	return nil
}

// Set is an immutable view of the published keys, sorted by ActiveFrom.
type Set struct {
	keys     []*Key
	byKID    map[string]*Key
	jwks     []byte
	etag     string
	cacheKey []byte
}

// NewSet builds the in-memory set from a stored doc.
func NewSet(doc Doc) (*Set, error) {
	s := &Set{byKID: make(map[string]*Key, len(doc.Keys)), cacheKey: doc.CacheKey}
	for _, sk := range doc.Keys {
		k, err := parse(sk)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", sk.KID, err)
		}
		s.keys = append(s.keys, k)
	}
	for i := 1; i < len(s.keys); i++ {
		if s.keys[i].ActiveFrom.Before(s.keys[i-1].ActiveFrom) {
			return nil, fmt.Errorf("keys are not sorted by active_from")
		}
	}
	if err := s.index(); err != nil {
		return nil, err
	}
	return s, nil
}

func parse(sk StoredKey) (*Key, error) {
	raw, err := x509.ParsePKCS8PrivateKey(sk.PrivateKey)
	if err != nil {
		return nil, err
	}
	var alg jose.SignatureAlgorithm
	var pub crypto.PublicKey
	switch priv := raw.(type) {
	case *ecdsa.PrivateKey:
		alg, pub = jose.ES256, &priv.PublicKey
	case ed25519.PrivateKey:
		alg, pub = jose.EdDSA, priv.Public()
	default:
		return nil, fmt.Errorf("unsupported key type %T", raw)
	}
	if string(alg) != sk.Alg {
		return nil, fmt.Errorf("key type does not match alg %q", sk.Alg)
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: raw, KeyID: sk.KID}},
		(&jose.SignerOptions{}).WithType(accesstoken.TokenType))
	if err != nil {
		return nil, err
	}
	header, err := protectedHeader(string(alg), sk.KID)
	if err != nil {
		return nil, err
	}
	return &Key{KID: sk.KID, Alg: alg, ActiveFrom: sk.ActiveFrom, Public: pub, Signer: signer,
		private: raw.(crypto.Signer), header: header}, nil
}

// same reports whether doc holds exactly the keys (and cache key) of s.
func (s *Set) same(doc Doc) bool {
	if len(doc.Keys) != len(s.keys) || string(doc.CacheKey) != string(s.cacheKey) {
		return false
	}
	for i, k := range doc.Keys {
		if k.KID != s.keys[i].KID || !k.ActiveFrom.Equal(s.keys[i].ActiveFrom) {
			return false
		}
	}
	return true
}

// Signing returns the key that signs at now: the one activated last. If
// every key is still in the future (a clock far behind the others'), the
// earliest one. Verify-only keys never sign; nil if there is no other.
func (s *Set) Signing(now time.Time) *Key {
	var first *Key
	for i := len(s.keys) - 1; i >= 0; i-- {
		if s.keys[i].verifyOnly {
			continue
		}
		if !s.keys[i].ActiveFrom.After(now) {
			return s.keys[i]
		}
		first = s.keys[i]
	}
	return first
}

// Lookup returns the published key kid.
func (s *Set) Lookup(kid string) (*Key, bool) {
	k, ok := s.byKID[kid]
	return k, ok
}

// Keys returns the published keys, oldest first.
func (s *Set) Keys() []*Key { return s.keys }

// JWKS is the JSON Web Key Set document (RFC 7517) of the published keys.
func (s *Set) JWKS() []byte { return s.jwks }

// ETag identifies the JWKS content.
func (s *Set) ETag() string { return s.etag }

// CacheKey is the HMAC key of the client-authentication cache.
func (s *Set) CacheKey() []byte { return s.cacheKey }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
