package secret

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Verifiers stored in Postgres when Vault is not configured. Each carries
// its scheme as a prefix so that schemes can change without a flag day.
//
//   - "sha256$<base64 of SHA-256(secret)>": the scheme of every new secret.
//     A 256-bit random secret cannot be guessed, so a slow password hash
//     buys nothing and would cost the token hot path milliseconds per
//     request; one SHA-256 is negligible beside it and still one-way.
//   - "$2a$", "$2b$", "$2y$": bcrypt, phase-1 (legacy) rows. Verified, never
//     written.
const sha256Scheme = "sha256$"

// Digest is the SHA-256 of a secret: what verification compares and what
// the Vault digest cache holds (never the secret).
type Digest [sha256.Size]byte

// DigestOf hashes a presented secret once per verification.
func DigestOf(s string) Digest { return sha256.Sum256([]byte(s)) }

// Equal compares two digests in constant time.
func (d Digest) Equal(o Digest) bool { return subtle.ConstantTimeCompare(d[:], o[:]) == 1 }

// Hash returns the stored verifier of a new secret.
func Hash(p Plaintext) string { return VerifierOf(DigestOf(p.Reveal())) }

// VerifierOf returns the "sha256$" verifier of a secret with digest d: what
// a bcrypt verifier is replaced with once its secret is presented.
func VerifierOf(d Digest) string { return sha256Scheme + base64.RawStdEncoding.EncodeToString(d[:]) }

// IsLegacy reports whether a stored verifier is a phase-1 bcrypt hash.
func IsLegacy(stored string) bool {
	return strings.HasPrefix(stored, "$2a$") || strings.HasPrefix(stored, "$2b$") || strings.HasPrefix(stored, "$2y$")
}

// ParseVerifier returns the digest a "sha256$" verifier holds; false for
// any other scheme or a malformed verifier. Vault mode stores exactly this
// verifier in KV, so that Vault never holds a secret.
func ParseVerifier(stored string) (Digest, bool) {
	rest, ok := strings.CutPrefix(stored, sha256Scheme)
	if !ok {
		return Digest{}, false
	}
	var want Digest
	n, err := base64.RawStdEncoding.Decode(want[:], []byte(rest))
	if err != nil || n != len(want) || base64.RawStdEncoding.EncodedLen(len(want)) != len(rest) {
		return Digest{}, false
	}
	return want, true
}

// MatchDigest checks a "sha256$" verifier against a presented secret's
// digest in constant time. Other schemes never match.
func MatchDigest(stored string, d Digest) bool {
	want, ok := ParseVerifier(stored)
	if !ok {
		return false
	}
	return d.Equal(want)
}

// MatchLegacy checks a bcrypt verifier (slow by design: ~60 ms at cost 10;
// callers bound how many run at once).
func MatchLegacy(stored, presented string) bool {
	if !IsLegacy(stored) || len(presented) > 72 {
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(stored), []byte(presented)) == nil
}
