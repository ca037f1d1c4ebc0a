package agent

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/apierror"
)

func reasonOf(err error) (apierror.Kind, string, string) {
	if e := apierror.As(err); e != nil {
		return e.Kind, e.Reason, e.Field
	}
	return 0, "", ""
}

// FuzzPageToken: a page token round-trips to its cursor under the filters
// it was issued for, is refused under other filters, and any string a
// client sends is a cursor for these filters or INVALID_PAGE_TOKEN.
func FuzzPageToken(f *testing.F) {
	after := uuid.MustParse("0190f8a0-0000-7000-8000-0000000000ff")
	f.Add(after[:], "team-a", "x", encodePageToken(after, Filter{Owner: "team-a"}))
	f.Add(make([]byte, 16), "", "", "")
	f.Add(after[:], "", "", "eyJhIjoiZmZmZmZmZmYtZmZmZi1mZmZmLWZmZmYtZmZmZmZmZmZmZmZmIiwiZiI6IiJ9")
	f.Add(after[:], "o", "", "garbage")
	f.Add(after[:], "o", "", strings.Repeat("A", 300))
	f.Fuzz(func(t *testing.T, afterBytes []byte, owner, search, raw string) {
		var a uuid.UUID
		copy(a[:], afterBytes)
		filter := Filter{Owner: owner, Search: search}
		tok := encodePageToken(a, filter)
		if a != uuid.Nil && len(tok) <= 256 {
			if got, err := decodePageToken(tok, filter); err != nil || got != a {
				t.Fatalf("decode(encode(%s)) = %s, %v", a, got, err)
			}
			other := filter
			other.Owner += "x"
			if _, err := decodePageToken(tok, other); !isPageTokenError(err) {
				t.Fatalf("a token used under other filters: %v", err)
			}
		}
		got, err := decodePageToken(raw, filter)
		switch {
		case err == nil && got == uuid.Nil:
			t.Fatalf("decode(%q) gave the nil cursor", raw)
		case err != nil && !isPageTokenError(err):
			t.Fatalf("decode(%q): %v", raw, err)
		}
	})
}

func isPageTokenError(err error) bool {
	k, reason, field := reasonOf(err)
	return k == apierror.InvalidArgument && reason == "INVALID_PAGE_TOKEN" && field == "pageToken"
}

// FuzzListFilter: a list filter the registry accepts can be sent to
// PostgreSQL as it is (UTF-8, no NUL, within the column limits); one it
// refuses is a 400 naming the offending filter.
func FuzzListFilter(f *testing.F) {
	for _, s := range []string{"", "team-e2e", "' OR '1'='1", "%", "_", "\\", "a\x00b", "\xff\xfe", "é", "  padded  ",
		strings.Repeat("o", 257), "x'; DROP TABLE agents;--"} {
		f.Add("active", s, "assistant", s)
	}
	f.Add("zombie", "", "", "")
	f.Add("", "", "Assistant", "")
	f.Fuzz(func(t *testing.T, status, owner, agentType, search string) {
		in := Filter{Status: Status(status), Owner: owner, AgentType: agentType, Search: search}
		got, err := in.checked()
		if err != nil {
			k, reason, field := reasonOf(err)
			if k != apierror.InvalidArgument || (reason != "FIELD_INVALID" && reason != "FIELD_TOO_LONG") ||
				!slices.Contains([]string{"status", "owner", "agentType", "search"}, field) {
				t.Fatalf("checked(%+v): %v", in, err)
			}
			return
		}
		for _, v := range []string{string(got.Status), got.Owner, got.AgentType, got.Search} {
			if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
				t.Fatalf("accepted %+v: PostgreSQL cannot take %q", in, v)
			}
		}
		if len(got.Owner) > MaxOwnerLen || len(got.Search) > maxSearchLen || got.Search != strings.TrimSpace(search) {
			t.Fatalf("accepted %+v as %+v", in, got)
		}
		if got.Status != "" && !got.Status.Valid() {
			t.Fatalf("accepted status %q", got.Status)
		}
	})
}

// FuzzRegisterFields: the fields of a registration the registry accepts can
// be stored (UTF-8 without NUL everywhere, metadata included) and respect
// the documented limits; a refusal names the field as the client wrote it.
// Normalising is idempotent.
func FuzzRegisterFields(f *testing.F) {
	f.Add("bot", "team", "", "assistant", "1.0.0", "prod", "web.search", "agents:read", "team", "e2e", "active")
	f.Add(" bot ", "team", "line\nbreak\ttab", "", "", "", "", "", "k", "a\x00b", "")
	f.Add("nul\x00name", "team", "", "", "", "", "", "", "", "", "")
	f.Add("bot", "team", "\xff", "", "", "", "", "*", "k", "\xff", "decommissioned")
	f.Add(strings.Repeat("é", 129), "team", "", "Assistant", "-1", "Prod", "a b", "agents:read ", "-k", "v", "zombie")
	f.Fuzz(func(t *testing.T, name, owner, description, agentType, version, env, capability, scope, mdKey, mdValue, status string) {
		in := Fields{Name: name, Owner: owner, Description: description, AgentType: agentType, Version: version,
			DeploymentEnv: env, Capabilities: []string{capability}, Scopes: []string{scope},
			Metadata: map[string]string{mdKey: mdValue}, Status: Status(status)}
		if in.AgentType == "" {
			in.AgentType = DefaultAgentType
		}
		if in.Status == "" {
			in.Status = StatusActive
		}
		in.normalize()
		once := in
		once.Capabilities = slices.Clone(in.Capabilities)
		once.Scopes = slices.Clone(in.Scopes)
		in.normalize()
		if in.Name != once.Name || !slices.Equal(in.Scopes, once.Scopes) || !slices.Equal(in.Capabilities, once.Capabilities) {
			t.Fatalf("normalize is not idempotent: %+v then %+v", once, in)
		}
		err := in.validateAll("agent.")
		if err != nil {
			k, _, field := reasonOf(err)
			if (k != apierror.InvalidArgument && k != apierror.FailedPrecondition) || !strings.HasPrefix(field, "agent.") {
				t.Fatalf("validateAll: %v", err)
			}
			return
		}
		texts := []string{in.Name, in.Owner, in.Description, in.AgentType, in.Version, in.DeploymentEnv, string(in.Status)}
		texts = append(append(texts, in.Capabilities...), in.Scopes...)
		for k, v := range in.Metadata {
			texts = append(texts, k, v)
		}
		for _, v := range texts {
			if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
				t.Fatalf("accepted %+v: PostgreSQL cannot store %q", in, v)
			}
		}
		if in.Name == "" || in.Owner == "" || utf8.RuneCountInString(in.Name) > MaxNameLen ||
			utf8.RuneCountInString(in.Description) > MaxDescriptionLen || utf8.RuneCountInString(in.Owner) > MaxOwnerLen {
			t.Fatalf("accepted %+v beyond the limits", in)
		}
		for _, s := range append(slices.Clone(in.Capabilities), in.Scopes...) {
			if !tokenPattern.MatchString(s) {
				t.Fatalf("accepted scope or capability %q", s)
			}
		}
		if in.Status != StatusActive && in.Status != StatusSuspended {
			t.Fatalf("accepted status %q", in.Status)
		}
	})
}

// FuzzUpdateMask: an update mask resolves to distinct settable fields or is
// INVALID_UPDATE_MASK on updateMask.
func FuzzUpdateMask(f *testing.F) {
	for _, s := range []string{"name", "name,owner", "agent_type,agentType", "*", "*,name", "status,scopes",
		"colour", "", " name ", "NAME", "agent.name", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, mask string) {
		paths := strings.Split(mask, ",")
		names, err := resolveMask(paths, Fields{Name: "n"})
		if err != nil {
			if _, reason, field := reasonOf(err); reason != "INVALID_UPDATE_MASK" || field != "updateMask" {
				t.Fatalf("resolveMask(%q): %v", mask, err)
			}
			return
		}
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] || !slices.Contains(fieldNames, n) {
				t.Fatalf("resolveMask(%q) = %q", mask, names)
			}
			seen[n] = true
		}
		if len(names) == 0 && len(paths) > 0 {
			t.Fatalf("resolveMask(%q) resolved to nothing", mask)
		}
	})
}
