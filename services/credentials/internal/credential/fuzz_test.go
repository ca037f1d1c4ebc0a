package credential

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/apierror"
)

// FuzzPageToken: a page token round-trips to its cursor for the agent it
// was issued for, is refused for any other agent, and anything else a
// client sends is either a cursor for this agent or INVALID_PAGE_TOKEN on
// the field pageToken — never another error, never the nil cursor.
func FuzzPageToken(f *testing.F) {
	agent := uuid.MustParse("0190f8a0-0000-7000-8000-00000000000a")
	after := uuid.MustParse("0190f8a0-0000-7000-8000-0000000000ff")
	f.Add(after[:], agent[:], encodePageToken(after, agent))
	f.Add(make([]byte, 16), agent[:], "")
	f.Add(after[:], make([]byte, 16), "eyJhIjoiMDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwIiwiZiI6IiJ9")
	f.Add(after[:], agent[:], "' OR 1=1--")
	f.Add(after[:], agent[:], "W10")
	f.Add(after[:], agent[:], "bnVsbA")
	f.Fuzz(func(t *testing.T, afterBytes, agentBytes []byte, raw string) {
		var a, ag uuid.UUID
		copy(a[:], afterBytes)
		copy(ag[:], agentBytes)
		tok := encodePageToken(a, ag)
		if a != uuid.Nil {
			got, err := decodePageToken(tok, ag)
			if err != nil || got != a {
				t.Fatalf("decode(encode(%s, %s)) = %s, %v", a, ag, got, err)
			}
		}
		other := ag
		other[15] ^= 1
		if _, err := decodePageToken(tok, other); !isPageTokenError(err) {
			t.Fatalf("a token of agent %s used for %s: %v", ag, other, err)
		}
		got, err := decodePageToken(raw, agent)
		if err == nil {
			if got == uuid.Nil {
				t.Fatalf("decode(%q) gave the nil cursor", raw)
			}
			if again, err := decodePageToken(encodePageToken(got, agent), agent); err != nil || again != got {
				t.Fatalf("cursor %s does not round-trip", got)
			}
		} else if !isPageTokenError(err) {
			t.Fatalf("decode(%q): %v", raw, err)
		}
	})
}

func isPageTokenError(err error) bool {
	e := apierror.As(err)
	return e != nil && e.Kind == apierror.InvalidArgument && e.Reason == "INVALID_PAGE_TOKEN" && e.Field == "pageToken"
}

// FuzzParseID: agent and credential ids from paths are canonical UUIDs
// only — what is accepted prints back as itself (case aside), so no two
// spellings name one credential — and a refusal names the field.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"0190f8a0-0000-7000-8000-00000000000a", "0190F8A0-0000-7000-8000-00000000000A", "",
		"{0190f8a0-0000-7000-8000-00000000000a}", "urn:uuid:0190f8a0-0000-7000-8000-00000000000a",
		"0190f8a000007000800000000000000a", "0190f8a0-0000-7000-8000-00000000000g", "' OR '1'='1", "x\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		got, err := parseID("credentialId", id)
		if err != nil {
			e := apierror.As(err)
			want := "FIELD_INVALID"
			if id == "" {
				want = "FIELD_REQUIRED"
			}
			if e == nil || e.Reason != want || e.Field != "credentialId" || e.Kind != apierror.InvalidArgument {
				t.Fatalf("parseID(%q): %v", id, err)
			}
			return
		}
		if len(id) != 36 || got.String() != strings.ToLower(id) {
			t.Fatalf("parseID(%q) = %s", id, got)
		}
	})
}
