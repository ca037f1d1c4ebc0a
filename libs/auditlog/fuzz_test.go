package auditlog

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// FuzzNormalize: Normalize is what fire-and-forget producers (the token
// and authz services, through the Redis emitter) rely on to make any event
// acceptable to the audit service's strict Record. For an event whose id,
// action, outcome and time are right, whatever its text and details hold,
// the normalised event passes Validate, normalising again changes nothing,
// and no detail value that looked like a secret survives.
func FuzzNormalize(f *testing.F) {
	f.Add("agent-1", "token:abc", "req-1", "10.0.0.1", "credential_id", "c-1", "scope", "agents:read")
	f.Add("", "", "", "", "client_secret", "agentidp_sk_abc", "note", "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sig")
	f.Add("a\x00b\x7f", strings.Repeat("é", 200), "\xff\xfe", "1.2.3.4\n", "truncated", "true", "k\x00ey", "v\x00alue")
	f.Add(strings.Repeat("x", 200), "t", "r", "s", "note", "agentidp\x00_sk_0123", "path", "/v1/eyJhbGc.\x00eyJzdWI.x")
	f.Add("a", "t", "r", "s", "TOKEN", "x", "Pass-Word", strings.Repeat("v", 300))
	f.Add("a", "t", "r", "s", "note", "\x00Bearer x", "note2", "Basic\x00 x")
	id := uuid.MustParse("0190f8a0-0000-7000-8000-000000000001")
	at := time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.FixedZone("x", 3600))
	f.Fuzz(func(t *testing.T, actor, target, requestID, source, k1, v1, k2, v2 string) {
		e := Event{ID: id, OccurredAt: at, Actor: actor, Action: "token.issued", Target: target, Outcome: OutcomeSuccess,
			RequestID: requestID, SourceAddress: source, Details: map[string]string{k1: v1, k2: v2}}
		n := Normalize(e)
		if err := n.Validate(); err != nil {
			t.Fatalf("Validate(Normalize(%+v)) = %v; normalised: %+v", e, err, n)
		}
		again := Normalize(n)
		if again.Actor != n.Actor || again.Target != n.Target || again.RequestID != n.RequestID ||
			again.SourceAddress != n.SourceAddress || !maps.Equal(again.Details, n.Details) {
			t.Fatalf("Normalize is not idempotent:\n%+v\n%+v", n, again)
		}
		for k, v := range n.Details {
			if v != Redacted && looksSecret(k, v) {
				t.Fatalf("detail %s = %q looks like a secret after Normalize", k, v)
			}
		}
		for k, v := range e.Details {
			if !looksSecret(k, v) {
				continue
			}
			for _, out := range n.Details {
				if len(v) > 8 && out != Redacted && strings.Contains(out, v) {
					t.Fatalf("secret-looking %s = %q survived as %q", k, v, out)
				}
			}
		}
	})
}

// base64URLOnly keeps s's base64url characters.
func base64URLOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && isBase64URL(byte(r)) {
			return r
		}
		return -1
	}, s)
}

// FuzzContainsJWT: whatever surrounds it, text holding something shaped
// like a JWT (two "eyJ…" base64url segments, dot-separated) is found, so
// a token in a detail (a path, a note) is redacted, never recorded.
func FuzzContainsJWT(f *testing.F) {
	f.Add("", "hbGciOiJFUzI1NiJ9", "zdWIiOiJ4In0", "sig", "")
	f.Add("GET /v1/agents/", "hbGc", "zdWI", "", "?x=eyJ")
	f.Add("eyJeyJ.eyJ", "ab", "cd", "x", "eyJ.")
	f.Add("eyJab.", "xx", "yy", "", ".eyJ")
	f.Fuzz(func(t *testing.T, prefix, header, payload, sig, suffix string) {
		header, payload = base64URLOnly(header), base64URLOnly(payload)
		if len(header) < 2 || len(payload) < 2 {
			return
		}
		jwt := "eyJ" + header + ".eyJ" + payload + "." + base64URLOnly(sig)
		if !containsJWT(jwt) {
			t.Fatalf("containsJWT(%q) = false", jwt)
		}
		if isBase64URL(lastByte(prefix)) {
			prefix += " " // glued to the text before, it is another segment
		}
		text := prefix + jwt + suffix
		if !containsJWT(text) {
			t.Fatalf("containsJWT(%q) = false", text)
		}
		n := Normalize(Event{Details: map[string]string{"note": text}})
		if n.Details["note"] != Redacted && n.Details["note"] != "" {
			t.Fatalf("Normalize kept %q", n.Details["note"])
		}
	})
}

func lastByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[len(s)-1]
}
