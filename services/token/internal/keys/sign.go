package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sentryagent/agentidp/libs/accesstoken"
)

// A JWS compact serialization is base64url(header) "." base64url(payload)
// "." base64url(signature). go-jose (Key.Signer) rebuilds and marshals the
// protected header through reflection for every signature; the header of
// an access token is the same for every token of a key, so the hot path
// encodes it once per key and signs with crypto/ecdsa or crypto/ed25519
// directly. BenchmarkSign measures both; tests verify the result with
// go-jose and lestrrat-go/jwx.

// protectedHeader is {"alg","kid","typ"} in base64url, computed once.
func protectedHeader(alg, kid string) (string, error) {
	b, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, kid, accesstoken.TokenType})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// ErrSignerUnavailable wraps the errors of a remote signer (Vault transit)
// that could not sign: the caller answers 503 and never falls back to
// another key.
var ErrSignerUnavailable = errors.New("keys: the signer is unavailable")

// SignCompact signs payload (the claims JSON) and returns the compact JWS.
// ctx bounds a remote signature (Vault transit); a local key ignores it.
func (k *Key) SignCompact(ctx context.Context, payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	n := len(k.header) + 1 + enc.EncodedLen(len(payload))
	buf := make([]byte, n, n+1+enc.EncodedLen(2*32))
	copy(buf, k.header)
	buf[len(k.header)] = '.'
	enc.Encode(buf[len(k.header)+1:], payload)
	var sig []byte
	if k.remote != nil {
		var err error
		if sig, err = k.remote(ctx, buf); err != nil {
			return "", fmt.Errorf("%w: %w", ErrSignerUnavailable, err)
		}
		buf = append(buf, '.')
		return string(enc.AppendEncode(buf, sig)), nil
	}
	switch priv := k.private.(type) {
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256(buf)
		r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
		if err != nil {
			return "", err
		}
		// RFC 7518 §3.4: R and S as 32-byte big-endian integers.
		var rs [64]byte
		r.FillBytes(rs[:32])
		s.FillBytes(rs[32:])
		sig = rs[:]
	case ed25519.PrivateKey:
		sig = ed25519.Sign(priv, buf)
	default:
		return "", errors.New("keys: unsupported private key")
	}
	buf = append(buf, '.')
	return string(enc.AppendEncode(buf, sig)), nil
}
