package audit

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/libs/auditlog"
)

func isAPIError(err error, reason string, fields ...string) bool {
	e := apierror.As(err)
	if e == nil || e.Kind != apierror.InvalidArgument || e.Reason != reason {
		return false
	}
	for _, f := range fields {
		if e.Field == f {
			return true
		}
	}
	return len(fields) == 0
}

// FuzzPageToken: a page token round-trips to its position under the
// filters it was issued for and is refused under others; anything else is
// a position an event can have (a sequence, a time in years 1-9999, which
// PostgreSQL represents) or INVALID_PAGE_TOKEN.
func FuzzPageToken(f *testing.F) {
	at := time.Date(2026, 11, 27, 17, 0, 0, 123456000, time.UTC)
	f.Add(at.UnixMicro(), int64(42), "agent.registered", encodePageToken(Position{OccurredAt: at, Sequence: 42}, Filter{}))
	f.Add(int64(0), int64(1), "", `eyJ0Ijo5MjIzMzcyMDM2ODU0Nzc1ODA3LCJzIjoxLCJmIjoiNDRiZDE0YWE4ZGZkOWU2NyJ9`)
	f.Add(int64(-62135596800000000), int64(1), "", "eyJ0IjotOTIyMzM3MjAzNjg1NDc3NTgwOCwicyI6MSwiZiI6IjQ0YmQxNGFhOGRmZDllNjcifQ")
	f.Add(int64(253402300799999999), int64(9223372036854775807), "", "eyJ0IjoxZTMwMCwicyI6MSwiZiI6IjQ0YmQxNGFhOGRmZDllNjcifQ")
	f.Add(int64(1), int64(0), "x", "W10")
	f.Fuzz(func(t *testing.T, micros, seq int64, action, raw string) {
		filter := Filter{Action: action}
		if micros >= minPageMicros && micros <= maxPageMicros && seq >= 1 {
			p := Position{OccurredAt: time.UnixMicro(micros).UTC(), Sequence: seq}
			tok := encodePageToken(p, filter)
			if len(tok) <= 256 {
				got, err := decodePageToken(tok, filter)
				if err != nil || !got.OccurredAt.Equal(p.OccurredAt) || got.Sequence != seq {
					t.Fatalf("decode(encode(%+v)) = %+v, %v", p, got, err)
				}
				if _, err := decodePageToken(tok, Filter{Action: action + "x"}); !isAPIError(err, "INVALID_PAGE_TOKEN", "pageToken") {
					t.Fatalf("a token used under other filters: %v", err)
				}
			}
		}
		got, err := decodePageToken(raw, filter)
		if err != nil {
			if !isAPIError(err, "INVALID_PAGE_TOKEN", "pageToken") {
				t.Fatalf("decode(%q): %v", raw, err)
			}
			return
		}
		if got.Sequence < 1 || got.OccurredAt.Year() < 1 || got.OccurredAt.Year() > 9999 {
			t.Fatalf("decode(%q) = %+v: no event can be there", raw, got)
		}
	})
}

// FuzzListFilter: a filter the audit service accepts can be sent to
// PostgreSQL as it is; one it refuses is a 400 naming the filter.
func FuzzListFilter(f *testing.F) {
	for _, s := range []string{"", "system", "' OR '1'='1", "a\x00", "\xff", strings.Repeat("a", 129), "agent.registered"} {
		f.Add(s, "agent.registered", "success", int64(0), int64(0))
	}
	f.Add("", "Agent.Registered", "denied", int64(100), int64(50))
	f.Add("", "audit.retention", "SUCCESS", int64(100), int64(100))
	f.Add("", "a.b'--", "failure' OR 1=1", int64(-1), int64(1))
	f.Fuzz(func(t *testing.T, actor, action, outcome string, start, end int64) {
		in := Filter{AgentID: uuid.Nil, Actor: actor, Action: action, Outcome: outcome}
		if start != 0 {
			in.Start = time.Unix(start, 0)
		}
		if end != 0 {
			in.End = time.Unix(end, 0)
		}
		got, err := in.checked()
		if err != nil {
			if !isAPIError(err, "FIELD_INVALID", "actor", "action", "outcome") && !isAPIError(err, "FIELD_TOO_LONG", "actor") &&
				!isAPIError(err, "INVALID_TIME_RANGE", "startTime") {
				t.Fatalf("checked(%+v): %v", in, err)
			}
			return
		}
		if !utf8.ValidString(got.Actor) || strings.IndexByte(got.Actor, 0) >= 0 || len(got.Actor) > auditlog.MaxActorLen {
			t.Fatalf("accepted actor %q", got.Actor)
		}
		if got.Action != "" && !auditlog.ValidAction(got.Action) {
			t.Fatalf("accepted action %q", got.Action)
		}
		switch got.Outcome {
		case "", auditlog.OutcomeSuccess, auditlog.OutcomeFailure, auditlog.OutcomeDenied:
		default:
			t.Fatalf("accepted outcome %q", got.Outcome)
		}
		if !got.Start.IsZero() && !got.End.IsZero() && !got.Start.Before(got.End) {
			t.Fatalf("accepted an empty time range %v..%v", got.Start, got.End)
		}
	})
}
