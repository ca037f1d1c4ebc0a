// Package storetest is the conformance suite every audit.Store must pass:
// the linear, idempotent, tamper-evident log the audit service relies on,
// run against the real backing store (internal/store/postgres runs it
// against PostgreSQL, as the service's restricted role).
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/auditlog"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
)

// Run runs the suite; newStore returns an empty store for each subtest.
func Run(t *testing.T, newStore func(t *testing.T) audit.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s audit.Store)
	}{
		{"EmptyLog", emptyLog},
		{"AppendChains", appendChains},
		{"AppendSkipsKnownIDs", appendSkipsKnownIDs},
		{"AppendOfNothingNew", appendOfNothingNew},
		{"RecordedAtNeverGoesBack", recordedAtNeverGoesBack},
		{"AppendAtAnyTime", appendAtAnyTime},
		{"AppendIsAllOrNothing", appendIsAllOrNothing},
		{"ConcurrentAppendsStayLinear", concurrentAppendsStayLinear},
		{"ConcurrentRedeliveriesStoreOnce", concurrentRedeliveriesStoreOnce},
		{"GetReturnsWhatWasAppended", getReturnsWhatWasAppended},
		{"GetUnknown", getUnknown},
		{"ListNewestFirst", listNewestFirst},
		{"ListPagesExactlyOnce", listPagesExactlyOnce},
		{"ListFilters", listFilters},
		{"Scan", scan},
		{"RetentionAnchor", retentionAnchor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

var ctx = context.Background()

// micro is the store's precision: the chain hashes Unix microseconds.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// event returns a valid event number i about agent (may be "") at time at.
func event(i int, agent string, at time.Time) auditlog.Event {
	return auditlog.Event{
		ID: auditlog.NewID(), OccurredAt: micro(at),
		Actor: auditlog.ActorSystem, Action: auditlog.ActionTokenIssued, Target: fmt.Sprintf("token:%d", i),
		AgentID: agent, Outcome: auditlog.OutcomeSuccess, RequestID: fmt.Sprintf("req-%d", i),
		SourceAddress: "203.0.113.7", Owner: "team-test", Details: map[string]string{"n": fmt.Sprint(i)},
	}
}

// events returns n events numbered from, a millisecond apart from at.
func events(from, n int, agent string, at time.Time) []auditlog.Event {
	out := make([]auditlog.Event, n)
	for i := range out {
		out[i] = event(from+i, agent, at.Add(time.Duration(i)*time.Millisecond))
	}
	return out
}

func mustAppend(t *testing.T, s audit.Store, evs []auditlog.Event, now time.Time) []audit.Event {
	t.Helper()
	stored, err := s.Append(ctx, evs, now)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return stored
}

func head(t *testing.T, s audit.Store) audit.Head {
	t.Helper()
	h, err := s.Head(ctx)
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	return h
}

// verify checks the whole chain with the service's own verifier.
func verify(t *testing.T, s audit.Store) audit.Verification {
	t.Helper()
	v, err := audit.Verify(ctx, s, audit.Range{})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !v.OK {
		t.Fatalf("the chain does not verify: %+v", v.Break)
	}
	return v
}

func emptyLog(t *testing.T, s audit.Store) {
	h := head(t, s)
	if h.Sequence != 0 || !bytes.Equal(h.Hash, audit.ZeroHash) {
		t.Fatalf("empty log's head: %d %x, want 0 and the zero hash", h.Sequence, h.Hash)
	}
	if _, ok, err := s.FirstSequence(ctx); ok || err != nil {
		t.Fatalf("empty log's first sequence: ok=%v %v", ok, err)
	}
	if list, err := s.List(ctx, audit.Filter{}, nil, 10); err != nil || len(list) != 0 {
		t.Fatalf("empty log's list: %d events, %v", len(list), err)
	}
	verify(t, s)
}

func appendChains(t *testing.T, s audit.Store) {
	now := time.Now()
	stored := mustAppend(t, s, events(0, 10, uuid.NewString(), now), now)
	if len(stored) != 10 {
		t.Fatalf("stored %d of 10 events", len(stored))
	}
	prev := audit.ZeroHash
	for i, e := range stored {
		if e.Sequence != int64(i+1) || !bytes.Equal(e.PrevHash, prev) || !bytes.Equal(e.Hash, audit.ChainHash(prev, e)) ||
			!e.RecordedAt.Equal(micro(now)) {
			t.Fatalf("event %d: sequence %d, recorded %v, prev %x (want %x), hash %x", i, e.Sequence, e.RecordedAt, e.PrevHash, prev, e.Hash)
		}
		prev = e.Hash
	}
	h := head(t, s)
	if h.Sequence != 10 || !bytes.Equal(h.Hash, prev) || !h.RecordedAt.Equal(micro(now)) {
		t.Fatalf("head %d %x at %v, want 10 %x at %v", h.Sequence, h.Hash, h.RecordedAt, prev, micro(now))
	}
	if first, ok, err := s.FirstSequence(ctx); first != 1 || !ok || err != nil {
		t.Fatalf("first sequence %d ok=%v %v", first, ok, err)
	}
	// A second batch continues the chain.
	more := mustAppend(t, s, events(10, 3, "", now), now)
	if more[0].Sequence != 11 || !bytes.Equal(more[0].PrevHash, prev) {
		t.Fatalf("second batch starts at %d after %x", more[0].Sequence, more[0].PrevHash)
	}
	if v := verify(t, s); v.Checked != 13 {
		t.Fatalf("verified %d events, want 13", v.Checked)
	}
}

// Producers redeliver: an event id already stored, or repeated within the
// batch, is stored once and the others of the batch still are.
func appendSkipsKnownIDs(t *testing.T, s audit.Store) {
	now := time.Now()
	first := events(0, 10, uuid.NewString(), now)
	mustAppend(t, s, first, now)
	batch := append(slices.Clone(first[5:]), events(10, 5, "", now)...)
	batch = append(batch, batch[7]) // the same new event twice
	stored := mustAppend(t, s, batch, now)
	if len(stored) != 5 || stored[0].Sequence != 11 || stored[0].Target != "token:10" || stored[4].Sequence != 15 {
		t.Fatalf("redelivery stored %d events from %d (%s), want the 5 new ones from 11", len(stored), stored[0].Sequence, stored[0].Target)
	}
	if v := verify(t, s); v.Checked != 15 {
		t.Fatalf("verified %d events, want 15", v.Checked)
	}
}

// An empty batch, or one whose events are all known, stores nothing and
// leaves the head where it was.
func appendOfNothingNew(t *testing.T, s audit.Store) {
	now := time.Now()
	first := mustAppend(t, s, events(0, 3, "", now), now)
	before := head(t, s)
	for name, batch := range map[string][]auditlog.Event{
		"empty":     nil,
		"all known": {first[0].Event, first[2].Event},
	} {
		stored, err := s.Append(ctx, batch, now.Add(time.Hour))
		if err != nil || len(stored) != 0 {
			t.Fatalf("%s batch: stored %d, %v", name, len(stored), err)
		}
		if h := head(t, s); h.Sequence != before.Sequence || !bytes.Equal(h.Hash, before.Hash) || !h.RecordedAt.Equal(before.RecordedAt) {
			t.Fatalf("%s batch moved the head to %d at %v", name, h.Sequence, h.RecordedAt)
		}
	}
}

// The chain's time never goes back, so a replica with a slow clock still
// appends after the head (time partitions hold contiguous sequences).
func recordedAtNeverGoesBack(t *testing.T, s audit.Store) {
	now := time.Now()
	mustAppend(t, s, events(0, 2, "", now), now)
	late := mustAppend(t, s, events(2, 2, "", now), now.Add(-time.Hour))
	for _, e := range late {
		if !e.RecordedAt.Equal(micro(now)) {
			t.Fatalf("recorded at %v after the head's %v", e.RecordedAt, micro(now))
		}
	}
	if h := head(t, s); !h.RecordedAt.Equal(micro(now)) {
		t.Fatalf("head recorded at %v, want %v", h.RecordedAt, micro(now))
	}
	verify(t, s)
}

// Append takes any time it is given: a store organised by time (partitions)
// makes room for it rather than refusing the batch.
func appendAtAnyTime(t *testing.T, s audit.Store) {
	for i, now := range []time.Time{
		time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC),
		time.Now().AddDate(2, 0, 0),
		time.Now().AddDate(7, 6, 0),
	} {
		stored := mustAppend(t, s, events(i*10, 2, "", now), now)
		if len(stored) != 2 || !stored[0].RecordedAt.Equal(micro(now)) {
			t.Fatalf("append at %v: stored %d events at %v", now, len(stored), stored[0].RecordedAt)
		}
		if got, err := s.Get(ctx, stored[1].ID); err != nil || got.Sequence != stored[1].Sequence {
			t.Fatalf("get an event recorded at %v: %v", now, err)
		}
	}
	verify(t, s)
}

// A batch the store cannot hold entirely is not stored in part. (An actor
// with a NUL byte passes no validation; a store may refuse it, or hold it.)
func appendIsAllOrNothing(t *testing.T, s audit.Store) {
	now := time.Now()
	mustAppend(t, s, events(0, 2, "", now), now)
	before := head(t, s)
	batch := events(2, 3, "", now)
	batch[1].Actor = "nul\x00byte"
	stored, err := s.Append(ctx, batch, now)
	h := head(t, s)
	if err == nil {
		if len(stored) != 3 || h.Sequence != 5 {
			t.Fatalf("append succeeded with %d events stored, head %d", len(stored), h.Sequence)
		}
		verify(t, s)
		return
	}
	t.Logf("the store refused the batch: %v", err)
	if h.Sequence != before.Sequence || !bytes.Equal(h.Hash, before.Hash) {
		t.Fatalf("a failed append moved the head from %d to %d", before.Sequence, h.Sequence)
	}
	if _, err := s.Get(ctx, batch[0].ID); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("the first event of a failed batch: %v, want ErrNotFound", err)
	}
	// The ids of the failed batch are not burnt: the batch can be retried.
	batch[1].Actor = auditlog.ActorSystem
	if stored := mustAppend(t, s, batch, now); len(stored) != 3 || stored[0].Sequence != 3 {
		t.Fatalf("retry stored %d events from %d", len(stored), stored[0].Sequence)
	}
	verify(t, s)
}

// Appends are serialised: replicas appending at once produce one chain,
// sequences 1..n without gaps.
func concurrentAppendsStayLinear(t *testing.T, s audit.Store) {
	const writers, batches, size = 4, 5, 20
	now := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				if _, err := s.Append(ctx, events((w*batches+b)*size, size, "", now), now); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if v := verify(t, s); v.Checked != writers*batches*size || v.To != writers*batches*size {
		t.Fatalf("verified %d events up to %d, want %d", v.Checked, v.To, writers*batches*size)
	}
}

// The same events relayed by several replicas at once (two audit replicas
// following one feed) are stored once.
func concurrentRedeliveriesStoreOnce(t *testing.T, s audit.Store) {
	const replicas = 4
	now := time.Now()
	batch := events(0, 50, "", now)
	stored := make([]int, replicas)
	var wg sync.WaitGroup
	for r := range replicas {
		wg.Go(func() {
			got, err := s.Append(ctx, batch, now)
			if err != nil {
				t.Error(err)
			}
			stored[r] = len(got)
		})
	}
	wg.Wait()
	total := 0
	for _, n := range stored {
		total += n
	}
	if total != len(batch) {
		t.Fatalf("replicas stored %v events, %d in all; want %d in all", stored, total, len(batch))
	}
	if v := verify(t, s); v.Checked != int64(len(batch)) {
		t.Fatalf("verified %d events, want %d", v.Checked, len(batch))
	}
}

func getReturnsWhatWasAppended(t *testing.T, s audit.Store) {
	now := time.Now()
	full := event(1, uuid.NewString(), now.Add(-time.Minute))
	full.Details = map[string]string{"scope": "agents:read", "a.b-c_d": "", "ü": "é"}
	full.Owner = "équipe-α"
	bare := auditlog.Event{ID: auditlog.NewID(), OccurredAt: micro(now), Actor: "agent-x",
		Action: auditlog.ActionPolicyReloaded, Outcome: auditlog.OutcomeFailure}
	stored := mustAppend(t, s, []auditlog.Event{full, bare}, now)
	for i, want := range stored {
		got, err := s.Get(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := differs(got, want); diff != "" {
			t.Fatalf("event %d read back: %s", i, diff)
		}
	}
	if got, _ := s.Get(ctx, bare.ID); got.Details != nil || got.AgentID != "" || got.Owner != "" {
		t.Fatalf("an event without details, agent or owner reads back with %v %q %q", got.Details, got.AgentID, got.Owner)
	}
}

// differs says how got differs from want, field by field.
func differs(got, want audit.Event) string {
	switch {
	case got.ID != want.ID || got.Sequence != want.Sequence:
		return fmt.Sprintf("id/sequence %s/%d, want %s/%d", got.ID, got.Sequence, want.ID, want.Sequence)
	case !got.OccurredAt.Equal(want.OccurredAt) || !got.RecordedAt.Equal(want.RecordedAt):
		return fmt.Sprintf("times %v/%v, want %v/%v", got.OccurredAt, got.RecordedAt, want.OccurredAt, want.RecordedAt)
	case got.Actor != want.Actor || got.Action != want.Action || got.Target != want.Target || got.AgentID != want.AgentID ||
		got.Outcome != want.Outcome || got.RequestID != want.RequestID || got.SourceAddress != want.SourceAddress || got.Owner != want.Owner:
		return fmt.Sprintf("%+v, want %+v", got.Event, want.Event)
	case len(got.Details) != len(want.Details):
		return fmt.Sprintf("details %v, want %v", got.Details, want.Details)
	case !bytes.Equal(got.PrevHash, want.PrevHash) || !bytes.Equal(got.Hash, want.Hash):
		return "hashes differ"
	}
	for k, v := range want.Details {
		if got.Details[k] != v {
			return fmt.Sprintf("details %v, want %v", got.Details, want.Details)
		}
	}
	return ""
}

func getUnknown(t *testing.T, s audit.Store) {
	mustAppend(t, s, events(0, 1, "", time.Now()), time.Now())
	if _, err := s.Get(ctx, auditlog.NewID()); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("unknown id: %v, want ErrNotFound", err)
	}
}

// Newest first by (OccurredAt, Sequence): producers' times, not arrival.
func listNewestFirst(t *testing.T, s audit.Store) {
	now := time.Now()
	a := event(1, "", now.Add(-time.Minute))
	b := event(2, "", now.Add(-time.Hour)) // arrives later, happened earlier
	c := event(3, "", now.Add(-time.Minute))
	stored := mustAppend(t, s, []auditlog.Event{a, b, c}, now)
	list, err := s.List(ctx, audit.Filter{}, nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]int64, len(list))
	for i, e := range list {
		got[i] = e.Sequence
	}
	// a and c happened at the same time: the later sequence first.
	if want := []int64{stored[2].Sequence, stored[0].Sequence, stored[1].Sequence}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if diff := differs(list[0], stored[2]); diff != "" {
		t.Fatalf("listed event: %s", diff)
	}
}

// Keyset pages return every event exactly once, even while events are
// appended meanwhile (they are newer, so they precede the first page).
func listPagesExactlyOnce(t *testing.T, s audit.Store) {
	now := time.Now()
	const n = 23
	batch := events(0, n, "", now.Add(-time.Hour))
	for i := range batch { // pairs of events at the same time: ties across page ends
		batch[i].OccurredAt = micro(now.Add(-time.Hour).Add(time.Duration(i/2) * time.Second))
	}
	mustAppend(t, s, batch, now)
	seen := map[uuid.UUID]bool{}
	var after *audit.Position
	for page := 0; ; page++ {
		list, err := s.List(ctx, audit.Filter{}, after, 5)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range list {
			if seen[e.ID] {
				t.Fatalf("page %d repeats event %d", page, e.Sequence)
			}
			seen[e.ID] = true
		}
		if len(list) < 5 {
			break
		}
		last := list[len(list)-1]
		after = &audit.Position{OccurredAt: last.OccurredAt, Sequence: last.Sequence}
		mustAppend(t, s, events(1000+page, 1, "", now), now) // newer than every page
	}
	if len(seen) != n {
		t.Fatalf("paging returned %d events, want %d", len(seen), n)
	}
}

func listFilters(t *testing.T, s audit.Store) {
	now := time.Now().UTC()
	agentA, agentB := uuid.New(), uuid.New()
	base := now.Add(-time.Hour)
	mk := func(i int, agent uuid.UUID, action, outcome, actor, owner string, at time.Time) auditlog.Event {
		e := event(i, "", at)
		if agent != uuid.Nil {
			e.AgentID = agent.String()
		}
		e.Action, e.Outcome, e.Actor, e.Owner = action, outcome, actor, owner
		return e
	}
	mustAppend(t, s, []auditlog.Event{
		mk(1, agentA, auditlog.ActionTokenIssued, auditlog.OutcomeSuccess, "system", "team-a", base),
		mk(2, agentA, auditlog.ActionTokenDenied, auditlog.OutcomeFailure, "system", "team-a", base.Add(time.Minute)),
		mk(3, agentB, auditlog.ActionAuthzDenied, auditlog.OutcomeDenied, agentA.String(), "team-b", base.Add(2*time.Minute)),
		mk(4, agentB, auditlog.ActionTokenIssued, auditlog.OutcomeSuccess, "system", "team-b", base.Add(3*time.Minute)),
		mk(5, uuid.Nil, auditlog.ActionPolicyReloaded, auditlog.OutcomeSuccess, "system", "", base.Add(4*time.Minute)),
	}, now)
	tests := []struct {
		name string
		f    audit.Filter
		want []string // targets, newest first
	}{
		{"everything", audit.Filter{}, []string{"token:5", "token:4", "token:3", "token:2", "token:1"}},
		{"agent", audit.Filter{AgentID: agentA}, []string{"token:2", "token:1"}},
		{"action", audit.Filter{Action: auditlog.ActionTokenIssued}, []string{"token:4", "token:1"}},
		{"success", audit.Filter{Outcome: auditlog.OutcomeSuccess}, []string{"token:5", "token:4", "token:1"}},
		{"failure", audit.Filter{Outcome: auditlog.OutcomeFailure}, []string{"token:2"}},
		{"denied", audit.Filter{Outcome: auditlog.OutcomeDenied}, []string{"token:3"}},
		{"actor", audit.Filter{Actor: agentA.String()}, []string{"token:3"}},
		{"owner", audit.Filter{Owner: "team-b"}, []string{"token:4", "token:3"}},
		{"start is inclusive", audit.Filter{Start: base.Add(3 * time.Minute)}, []string{"token:5", "token:4"}},
		{"end is exclusive", audit.Filter{End: base.Add(time.Minute)}, []string{"token:1"}},
		{"time range", audit.Filter{Start: base.Add(time.Minute), End: base.Add(3 * time.Minute)}, []string{"token:3", "token:2"}},
		{"combined", audit.Filter{AgentID: agentB, Outcome: auditlog.OutcomeSuccess, Owner: "team-b"}, []string{"token:4"}},
		{"no match", audit.Filter{AgentID: agentA, Owner: "team-b"}, nil},
		{"unknown action", audit.Filter{Action: "agent.registered"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := s.List(ctx, tt.f, nil, 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Target)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func scan(t *testing.T, s audit.Store) {
	now := time.Now()
	mustAppend(t, s, events(0, 10, "", now), now)
	collect := func(from, to int64) []int64 {
		var got []int64
		if err := s.Scan(ctx, from, to, func(e audit.Event) error { got = append(got, e.Sequence); return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, tc := range []struct {
		from, to int64
		want     []int64
	}{
		{1, 10, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{3, 5, []int64{3, 4, 5}},
		{7, 7, []int64{7}},
		{9, 100, []int64{9, 10}},
		{6, 5, nil},
		{11, 20, nil},
	} {
		if got := collect(tc.from, tc.to); !slices.Equal(got, tc.want) {
			t.Fatalf("scan %d..%d: %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
	stop := errors.New("stop")
	calls := 0
	err := s.Scan(ctx, 1, 10, func(e audit.Event) error {
		calls++
		if e.Sequence == 4 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 4 {
		t.Fatalf("scan stopped by fn: %v after %d calls, want fn's error after 4", err, calls)
	}
}

// The audit.retention events anchor the chain where retention cut it.
func retentionAnchor(t *testing.T, s audit.Store) {
	now := time.Now()
	if _, ok, err := s.RetentionAnchor(ctx, 20); ok || err != nil {
		t.Fatalf("anchor in an empty log: ok=%v %v", ok, err)
	}
	retention := func(lastSequence int, lastHash string, at time.Time) auditlog.Event {
		return auditlog.Event{ID: auditlog.NewID(), OccurredAt: micro(at), Actor: auditlog.ActorSystem,
			Action: auditlog.ActionAuditRetention, Outcome: auditlog.OutcomeSuccess,
			Details: map[string]string{"lastSequence": fmt.Sprint(lastSequence), "lastHash": lastHash}}
	}
	mustAppend(t, s, []auditlog.Event{
		retention(20, "aa01", now.Add(-time.Minute)),
		retention(30, "bb02", now),
		retention(20, "cc03", now), // a later record of the same cut wins
	}, now)
	for _, tc := range []struct {
		lastDropped int64
		want        []byte
		ok          bool
	}{
		{20, []byte{0xcc, 0x03}, true},
		{30, []byte{0xbb, 0x02}, true},
		{2, nil, false},
		{25, nil, false},
	} {
		got, ok, err := s.RetentionAnchor(ctx, tc.lastDropped)
		if err != nil || ok != tc.ok || !bytes.Equal(got, tc.want) {
			t.Fatalf("anchor for %d: %x ok=%v %v; want %x ok=%v", tc.lastDropped, got, ok, err, tc.want, tc.ok)
		}
	}
}
