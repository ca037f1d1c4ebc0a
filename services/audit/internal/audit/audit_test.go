package audit

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/auditlog"
)

// The canonical encoding is a contract (docs/audit.md): external verifiers
// implement it. This vector pins it.
func TestChainHashVector(t *testing.T) {
	e := Event{
		Event: auditlog.Event{
			ID:         uuid.MustParse("0190a5b2-0000-7000-8000-000000000001"),
			OccurredAt: time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC),
			Actor:      "system", Action: "agent.registered", Target: "agent:0190a5b2-0000-7000-8000-0000000000aa",
			AgentID: "0190a5b2-0000-7000-8000-0000000000aa", Outcome: "success", RequestID: "r-1",
			SourceAddress: "192.0.2.1", Details: map[string]string{"b": "2", "a": "1"},
		},
		Sequence:   1,
		RecordedAt: time.Date(2025, 1, 2, 3, 4, 6, 0, time.UTC),
	}
	got := hex.EncodeToString(ChainHash(ZeroHash, e))
	const want = "dd5e491027184637cfac8d74756fb5e65600083dea6d9150323eaba35e772166"
	if got != want {
		t.Fatalf("ChainHash = %s, want %s", got, want)
	}
	// Every field counts.
	e2 := e
	e2.Details = map[string]string{"a": "1", "b": "3"}
	if hex.EncodeToString(ChainHash(ZeroHash, e2)) == got {
		t.Fatal("details do not count")
	}
	e2 = e
	e2.Actor, e2.Action = "systema", "gent.registered" // same bytes, other boundary
	if hex.EncodeToString(ChainHash(ZeroHash, e2)) == got {
		t.Fatal("field boundaries do not count")
	}
}

func TestPageTokenRoundTrip(t *testing.T) {
	f := Filter{AgentID: uuid.New(), Outcome: "denied", Start: time.Unix(100, 0).UTC()}
	p := Position{OccurredAt: time.UnixMicro(1_700_000_000_123_456).UTC(), Sequence: 42}
	got, err := decodePageToken(encodePageToken(p, f), f)
	if err != nil || !got.OccurredAt.Equal(p.OccurredAt) || got.Sequence != 42 {
		t.Fatalf("%+v, %v", got, err)
	}
	f.Outcome = "failure"
	if _, err := decodePageToken(encodePageToken(p, Filter{}), f); err == nil {
		t.Fatal("a token of other filters was accepted")
	}
}
