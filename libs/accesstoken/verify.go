package accesstoken

import (
	"context"
	"encoding/base64"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/json"
)

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

// Keys finds verification keys: authz's JWKS cache (which fetches the
// JWKS again when a token names a key it does not know), or the token
// service's own key set.
type Keys interface {
	LookupOrRefresh(ctx context.Context, kid string) (Key, bool)
}

// Config configures a Verifier.
type Config struct {
	Keys     Keys
	Issuer   string
	Audience string
	// Skew is the clock difference tolerated on exp, nbf and iat.
	Skew time.Duration
	Now  func() time.Time // default time.Now
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

// MaxLength bounds a token (one of this issuer's is well under 1 KiB).
const MaxLength = 8192

// maxDate bounds a NumericDate (year 3058): far past any real token, far
// below where int64 seconds overflow as time.
const maxDate = math.MaxInt32 * 16

// Verify checks a compact JWS and returns its claims: the signature by a
// key of Keys with an allowed algorithm that is the key's own, typ at+jwt,
// no critical header, iss, aud, exp/nbf/iat (with Skew) and the presence
// of sub, jti and client_id. go-jose parses and verifies the JWS; its JSON
// decoder matches member names exactly (JOSE and JWT names are
// case-sensitive: "ISS" is not "iss") and refuses a duplicate member in the
// header or the claims, which a reader that keeps the first and one that
// keeps the last would understand differently.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Verified, error) {
	if len(raw) == 0 || len(raw) > MaxLength || !canonical(raw) {
		return nil, ErrMalformed
	}
	jws, err := jose.ParseSignedCompact(raw, algorithms)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return nil, ErrAlgorithm
		}
		return nil, ErrMalformed
	}
	h := jws.Signatures[0].Protected
	// We understand no critical extension (RFC 7515 §4.1.11); go-jose
	// would honour "b64" (RFC 7797, a payload signed unencoded), which this
	// issuer never uses, so its header is refused with or without crit.
	if crit, ok := h.ExtraHeaders["crit"]; ok && crit != nil {
		return nil, ErrMalformed
	}
	if _, ok := h.ExtraHeaders["b64"]; ok {
		return nil, ErrMalformed
	}
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !IsTokenType(typ) {
		return nil, ErrType
	}
	if h.KeyID == "" {
		return nil, ErrUnknownKey
	}
	key, ok := v.cfg.Keys.LookupOrRefresh(ctx, h.KeyID)
	if !ok {
		return nil, ErrUnknownKey
	}
	if key.Alg != h.Algorithm {
		return nil, ErrAlgorithm // the header may not choose another algorithm than the key's
	}
	payload, err := jws.Verify(key.Public)
	if err != nil {
		return nil, ErrSignature
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, ErrMalformed
	}
	if err := v.check(&c); err != nil {
		return nil, err
	}
	return NewVerified(c, h.KeyID), nil
}

// check applies the claim rules to signed claims.
func (v *Verifier) check(c *Claims) error {
	now := v.cfg.Now().Unix()
	skew := int64(v.cfg.Skew / time.Second)
	switch {
	case c.Expiry <= 0 || c.Expiry > maxDate || c.IssuedAt <= 0 || c.IssuedAt > maxDate:
		return ErrClaims
	case c.NotBefore < 0 || c.NotBefore > maxDate:
		return ErrMalformed
	case c.Issuer != v.cfg.Issuer:
		return ErrIssuer
	case !contains(c.Audience, v.cfg.Audience):
		return ErrAudience
	case now >= c.Expiry+skew:
		return ErrExpired
	case c.NotBefore != 0 && now+skew < c.NotBefore:
		return ErrNotYetValid
	case now+skew < c.IssuedAt:
		return ErrIssuedFuture
	case c.Subject == "" || c.ID == "" || c.ClientID == "":
		return ErrClaims
	}
	return nil
}

var strict = base64.RawURLEncoding.Strict()

// canonical reports whether raw is three base64url segments spelled the
// one way they can be (RFC 7515 §2: no padding, no line breaks, no stray
// bits after the last byte). go-jose decodes leniently and verifies the
// signature over its own re-encoding of the header and payload, so without
// this one signed token would have many spellings, each a new cache entry
// and a string nobody signed.
func canonical(raw string) bool {
	dots := 0
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '.':
			dots++
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	if dots != 2 {
		return false
	}
	for seg := range strings.SplitSeq(raw, ".") {
		// Only the last, partial group of four can carry stray bits.
		if r := len(seg) % 4; r != 0 {
			if _, err := strict.DecodeString(seg[len(seg)-r:]); err != nil {
				return false
			}
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
