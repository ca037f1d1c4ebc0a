// Package secret generates and parses AgentIdP client secrets and computes
// the one-way verifiers kept for them when Vault is not configured.
package secret

import (
	"crypto/rand"
	"fmt"
	"hash/crc32"

	"github.com/google/uuid"
)

// A client secret reads
//
//	agentidp_sk_<credentialId: 22 base62><"_"><random: 43 base62><checksum: 6 base62>
//
// (84 characters). The fixed prefix lets secret scanners find leaked
// secrets; the CRC32 checksum over everything before it lets them (and us)
// reject a look-alike offline without a lookup. Embedding the credential id
// means verification reads exactly one credential, never searches by
// secret. The 43 characters carry 32 bytes from crypto/rand: 256 bits.
const (
	Prefix = "agentidp_sk_"

	idChars     = 22 // 62^22 > 2^128
	randomBytes = 32
	randomChars = 43 // 62^43 > 2^256
	sumChars    = 6  // 62^6 > 2^32

	idStart   = len(Prefix)
	sepAt     = idStart + idChars
	randStart = sepAt + 1
	sumStart  = randStart + randomChars

	// Length is the length of every secret this package generates.
	Length = sumStart + sumChars
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// digitOf maps a byte to its base62 value, or 0xff.
var digitOf = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// New returns a fresh secret for the credential id.
func New(credentialID uuid.UUID) (Plaintext, error) {
	var random [randomBytes]byte
	if _, err := rand.Read(random[:]); err != nil {
		return "", fmt.Errorf("secret: read random bytes: %w", err)
	}
	b := make([]byte, Length)
	copy(b, Prefix)
	encode(b[idStart:sepAt], credentialID[:])
	b[sepAt] = '_'
	encode(b[randStart:sumStart], random[:])
	putChecksum(b[sumStart:], b[:sumStart])
	return Plaintext(b), nil
}

// HasShape reports whether s looks like a secret of this format (prefix and
// length). Anything else can only be a legacy secret.
func HasShape(s string) bool {
	return len(s) == Length && s[:len(Prefix)] == Prefix
}

// Parse checks s's shape, alphabet and checksum and returns the credential
// id it embeds. It is cheap: no hashing beyond CRC32.
func Parse(s string) (uuid.UUID, bool) {
	if !HasShape(s) || s[sepAt] != '_' {
		return uuid.Nil, false
	}
	for i := idStart; i < Length; i++ {
		if i != sepAt && digitOf[s[i]] == 0xff {
			return uuid.Nil, false
		}
	}
	var sum [sumChars]byte
	putChecksum(sum[:], []byte(s[:sumStart]))
	if string(sum[:]) != s[sumStart:] {
		return uuid.Nil, false
	}
	var id uuid.UUID
	if !decode(id[:], s[idStart:sepAt]) {
		return uuid.Nil, false
	}
	return id, true
}

func putChecksum(dst, body []byte) {
	c := crc32.ChecksumIEEE(body)
	encode(dst, []byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)})
}

// encode writes the big-endian number in src into dst as fixed-width
// base62 (dst must be wide enough: the caller's constants guarantee it).
func encode(dst, src []byte) {
	var buf [randomBytes]byte
	n := buf[:len(src)]
	copy(n, src)
	for i := len(dst) - 1; i >= 0; i-- {
		// n /= 62, remainder into dst[i]
		var rem uint
		for j := range n {
			cur := rem<<8 | uint(n[j])
			n[j] = byte(cur / 62)
			rem = cur % 62
		}
		dst[i] = alphabet[rem]
	}
}

// decode parses fixed-width base62 into dst (big-endian); false on overflow.
func decode(dst []byte, src string) bool {
	clear(dst)
	for i := 0; i < len(src); i++ {
		carry := uint(digitOf[src[i]])
		for j := len(dst) - 1; j >= 0; j-- {
			cur := uint(dst[j])*62 + carry
			dst[j] = byte(cur)
			carry = cur >> 8
		}
		if carry != 0 {
			return false
		}
	}
	return true
}
