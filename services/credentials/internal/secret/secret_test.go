package secret_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/sentryagent/agentidp/services/credentials/internal/secret"
)

func TestNewAndParse(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		id := uuid.Must(uuid.NewV7())
		s, err := secret.New(id)
		if err != nil {
			t.Fatal(err)
		}
		v := s.Reveal()
		if secret.Length != 84 || len(v) != secret.Length || !strings.HasPrefix(v, secret.Prefix) {
			t.Fatalf("bad shape %d", len(v))
		}
		if seen[v] {
			t.Fatal("duplicate secret")
		}
		seen[v] = true
		got, ok := secret.Parse(v)
		if !ok || got != id {
			t.Fatalf("Parse = %v %v, want %v", got, ok, id)
		}
	}
	// Extreme ids survive the fixed-width encoding.
	for _, id := range []uuid.UUID{uuid.Nil, uuid.Max} {
		s, _ := secret.New(id)
		if got, ok := secret.Parse(s.Reveal()); !ok || got != id {
			t.Fatalf("round trip of %v: %v %v", id, got, ok)
		}
	}
}

func TestParseRejectsLookAlikes(t *testing.T) {
	s, _ := secret.New(uuid.Must(uuid.NewV7()))
	good := s.Reveal()
	flip := func(i int) string {
		b := []byte(good)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := map[string]string{
		"empty":              "",
		"short":              good[:83],
		"long":               good + "a",
		"prefix":             "agentidp_pk_" + good[12:],
		"separator":          good[:34] + "-" + good[35:],
		"alphabet":           good[:50] + "+" + good[51:],
		"id character":       flip(20),
		"random character":   flip(60),
		"checksum character": flip(82),
		// 22 base62 digits can exceed 128 bits: "zzz..." must not wrap around.
		"id overflow": func() string {
			body := secret.Prefix + strings.Repeat("z", 22) + good[34:78]
			return body + checksumOf(t, body, good)
		}(),
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, ok := secret.Parse(c); ok {
				t.Fatalf("Parse accepted %q", c)
			}
		})
	}
}

// checksumOf recomputes the checksum the way the documentation tells a
// secret scanner to: CRC32 (IEEE) of everything before it, as 6 base62
// digits, most significant first.
func checksumOf(t *testing.T, body, _ string) string {
	t.Helper()
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	c := crc32.ChecksumIEEE([]byte(body))
	out := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		out[i] = alphabet[c%62]
		c /= 62
	}
	return string(out)
}

// A scanner can validate a candidate offline from the documented format.
func TestChecksumIsDocumentedCRC32(t *testing.T) {
	s, _ := secret.New(uuid.Must(uuid.NewV7()))
	v := s.Reveal()
	if got := checksumOf(t, v[:78], ""); got != v[78:] {
		t.Fatalf("checksum %s, recomputed %s", v[78:], got)
	}
}

func TestHashes(t *testing.T) {
	s, _ := secret.New(uuid.New())
	other, _ := secret.New(uuid.New())
	h := secret.Hash(s)
	if !strings.HasPrefix(h, "sha256$") || strings.Contains(h, s.Reveal()) {
		t.Fatalf("hash %q", h)
	}
	if !secret.MatchDigest(h, secret.DigestOf(s.Reveal())) || secret.MatchDigest(h, secret.DigestOf(other.Reveal())) {
		t.Fatal("MatchDigest disagrees")
	}
	for _, bad := range []string{"", "sha256$", "sha256$!!!", h[:len(h)-1], "md5$" + h[7:]} {
		if secret.MatchDigest(bad, secret.DigestOf(s.Reveal())) {
			t.Fatalf("MatchDigest accepted %q", bad)
		}
	}
	b, _ := bcrypt.GenerateFromPassword([]byte("phase1"), bcrypt.MinCost)
	if !secret.IsLegacy(string(b)) || secret.IsLegacy(h) {
		t.Fatal("IsLegacy disagrees")
	}
	if !secret.MatchLegacy(string(b), "phase1") || secret.MatchLegacy(string(b), "phase2") || secret.MatchLegacy(h, s.Reveal()) {
		t.Fatal("MatchLegacy disagrees")
	}
	if secret.MatchDigest(string(b), secret.DigestOf("phase1")) {
		t.Fatal("a bcrypt hash matched as sha256")
	}
}

// A Plaintext cannot slip into a log line, a formatted error or JSON.
func TestPlaintextIsRedacted(t *testing.T) {
	s, _ := secret.New(uuid.New())
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("issued", "secret", s, "issued", struct{ Secret secret.Plaintext }{s})
	slog.New(slog.NewTextHandler(&buf, nil)).Info("issued", "secret", s)
	j, _ := json.Marshal(map[string]any{"s": s})
	out := buf.String() + fmt.Sprint(s) + fmt.Sprintf("%v %+v %#v %s", s, struct{ S secret.Plaintext }{s}, s, s) +
		fmt.Errorf("wrapped: %v", s).Error() + string(j)
	if strings.Contains(out, s.Reveal()) || strings.Contains(out, s.Reveal()[12:]) {
		t.Fatalf("secret leaked: %s", out)
	}
	if !strings.Contains(out, "[REDACTED]") {
		t.Fatal("no redaction marker")
	}
}

func BenchmarkParse(b *testing.B) {
	s, _ := secret.New(uuid.New())
	v := s.Reveal()
	for b.Loop() {
		secret.Parse(v)
	}
}

func BenchmarkDigest(b *testing.B) {
	s, _ := secret.New(uuid.New())
	v := s.Reveal()
	for b.Loop() {
		secret.DigestOf(v)
	}
}
