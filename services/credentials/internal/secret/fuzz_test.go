package secret

import (
	"testing"

	"github.com/google/uuid"
)

// format is New with its randomness given.
func format(id uuid.UUID, random [randomBytes]byte) string {
	b := make([]byte, Length)
	copy(b, Prefix)
	encode(b[idStart:sepAt], id[:])
	b[sepAt] = '_'
	encode(b[randStart:sumStart], random[:])
	putChecksum(b[sumStart:], b[:sumStart])
	return string(b)
}

// FuzzParse: every secret the format produces parses back to its
// credential id; changing any one character of it is caught (the CRC32
// checksum detects every single-byte change) before any lookup; and
// whatever Parse accepts is exactly a formatted secret.
func FuzzParse(f *testing.F) {
	f.Add([]byte("0190f8a0-0000-70"), []byte("0123456789abcdef0123456789abcdef"), 30, byte('A'), "")
	f.Add(make([]byte, 16), make([]byte, 32), 0, byte('_'), "agentidp_sk_"+string(make([]byte, 72)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 83, byte('z'),
		"agentidp_sk_zzzzzzzzzzzzzzzzzzzzzz_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz")
	f.Fuzz(func(t *testing.T, idBytes, randomBytes_ []byte, pos int, c byte, raw string) {
		var id uuid.UUID
		var random [randomBytes]byte
		copy(id[:], idBytes)
		copy(random[:], randomBytes_)
		s := format(id, random)
		got, ok := Parse(s)
		if !ok || got != id || !HasShape(s) {
			t.Fatalf("Parse(format(%s)) = %s, %v", id, got, ok)
		}
		if pos < 0 {
			pos = -pos
		}
		i := pos % Length
		if b := []byte(s); b[i] != c {
			b[i] = c
			if got, ok := Parse(string(b)); ok {
				t.Fatalf("%q (character %d changed) parsed as %s", b, i, got)
			}
		}
		if got, ok := Parse(raw); ok {
			// The random part is not recoverable, but everything else is:
			// the accepted string must be the format of its own id.
			if !HasShape(raw) || raw[sepAt] != '_' {
				t.Fatalf("Parse accepted %q", raw)
			}
			var sum [sumChars]byte
			putChecksum(sum[:], []byte(raw[:sumStart]))
			if string(sum[:]) != raw[sumStart:] {
				t.Fatalf("Parse accepted %q with a wrong checksum", raw)
			}
			var idPart [idChars]byte
			encode(idPart[:], got[:])
			if string(idPart[:]) != raw[idStart:sepAt] {
				t.Fatalf("Parse(%q) = %s, which formats as %s", raw, got, idPart)
			}
		}
	})
}
