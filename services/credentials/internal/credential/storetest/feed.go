package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/libs/requestinfo"
	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
)

// The change feed (the outbox the token and audit services follow) and
// the grace-period sweeper that writes to it.
var feedTests = []test{
	{"EachChangeOnce", eachChangeOnce},
	{"EventsAfterPages", eventsAfterPages},
	{"EventsSayWhoAndWhose", eventsSayWhoAndWhose},
	{"ConcurrentWritersNeverSkipAReader", concurrentWritersNeverSkip},
	{"WaitForEvents", waitForEvents},
	{"EndGracePeriods", endGracePeriods},
	{"ConcurrentSweepersClaimOnce", concurrentSweepers},
}

// Every committed change is one event; what changes nothing, or only
// pending rows, is none.
func eachChangeOnce(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	c := f.hashed(agent, shaHash)   // created
	f.rotate(c, shaHash2, 0, now()) // rotated
	if _, err := f.s.RotateHashed(ctx, agent, c.ID, func(credential.Credential) error { return errors.New("no") }, credential.Verifier{Hash: shaHash}, 0, now()); err == nil {
		t.Fatal("a refused rotation succeeded") // nothing
	}
	p := f.pending(agent)                                 // nothing yet
	if _, err := f.s.Activate(ctx, p.ID, 1); err != nil { // created
		t.Fatal(err)
	}
	if _, _, err := f.s.BeginRotation(ctx, agent, p.ID, func(credential.Credential) error { return nil }, p.VaultPath, now()); err != nil {
		t.Fatal(err) // nothing yet
	}
	if _, _, err := f.s.Revoke(ctx, agent, c.ID, now()); err != nil { // revoked
		t.Fatal(err)
	}
	if _, _, err := f.s.Revoke(ctx, agent, c.ID, now()); err != nil { // nothing
		t.Fatal(err)
	}
	f.pending(agent) // nothing
	evs := f.events()
	type change struct {
		id  uuid.UUID
		typ credential.EventType
	}
	var got []change
	for i, e := range evs {
		if i > 0 && e.Sequence <= evs[i-1].Sequence {
			t.Fatalf("sequence %d after %d", e.Sequence, evs[i-1].Sequence)
		}
		got = append(got, change{e.CredentialID, e.Type})
	}
	want := []change{{c.ID, credential.EventCreated}, {c.ID, credential.EventRotated}, {p.ID, credential.EventCreated}, {c.ID, credential.EventRevoked}}
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if last, err := f.s.LastSequence(ctx); err != nil || last != evs[len(evs)-1].Sequence {
		t.Fatalf("last sequence %d %v, want %d", last, err, evs[len(evs)-1].Sequence)
	}
}

func eventsAfterPages(t *testing.T, f *fixture) {
	if last, err := f.s.LastSequence(ctx); err != nil || last != 0 {
		t.Fatalf("an empty feed's last sequence: %d %v", last, err)
	}
	agent := f.agent(credential.AgentActive, "team-a")
	for range 7 {
		f.hashed(agent, shaHash)
	}
	all := f.events()
	var paged []credential.Event
	after := int64(0)
	for {
		page, err := f.s.EventsAfter(ctx, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 3 {
			t.Fatalf("a page of %d events, limit 3", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].Sequence
	}
	if len(paged) != 7 || len(all) != 7 {
		t.Fatalf("%d events paged, %d in all; want 7", len(paged), len(all))
	}
	for i := range all {
		if paged[i] != all[i] {
			t.Fatalf("event %d: paged %+v, read at once %+v", i, paged[i], all[i])
		}
	}
}

// Each event records the request behind it (libs/requestinfo) and the
// owner whose audit log it belongs to: the one the service resolved
// (credential.WithOwner), else the projection's, else none.
func eventsSayWhoAndWhose(t *testing.T, f *fixture) {
	known := f.agent(credential.AgentActive, "team-a")
	unknown := uuid.Must(uuid.NewV7())
	req := requestinfo.Info{Actor: uuid.NewString(), RequestID: "req-42", SourceAddress: "198.51.100.4"}
	tests := []struct {
		name      string
		ctx       context.Context
		agent     uuid.UUID
		wantOwner string
		wantActor string
	}{
		{"projected agent", ctx, known, "team-a", requestinfo.System},
		{"owner resolved by the service", credential.WithOwner(ctx, "team-b"), known, "team-b", requestinfo.System},
		{"agent the projection lacks", ctx, unknown, "", requestinfo.System},
		{"a client's request", requestinfo.With(ctx, req), known, "team-a", req.Actor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := f.s.CreateActive(tt.ctx, newCredential(tt.agent, credential.StateActive), credential.Verifier{Version: 1, Hash: shaHash})
			if err != nil {
				t.Fatal(err)
			}
			evs := f.events()
			e := evs[len(evs)-1]
			if e.CredentialID != c.ID || e.AgentID != tt.agent || e.Owner != tt.wantOwner || e.Actor != tt.wantActor ||
				!e.OccurredAt.Equal(c.CreatedAt) {
				t.Fatalf("event %+v", e)
			}
			if tt.wantActor == req.Actor && (e.RequestID != req.RequestID || e.SourceAddress != req.SourceAddress) {
				t.Fatalf("event %+v, want request %s from %s", e, req.RequestID, req.SourceAddress)
			}
		})
	}
}

// A follower reading "after n" while writers commit never misses an event
// that commits later with a smaller sequence.
func concurrentWritersNeverSkip(t *testing.T, f *fixture) {
	const writers, each = 4, 15
	agents := make([]uuid.UUID, writers)
	for i := range agents {
		agents[i] = f.agent(credential.AgentActive, "team-a")
	}
	stop := make(chan struct{})
	var read []int64
	var lastRead atomic.Int64
	readerDone := make(chan error, 1)
	go func() {
		after := int64(0)
		for {
			select {
			case <-stop:
				readerDone <- nil
				return
			default:
			}
			page, err := f.s.EventsAfter(ctx, after, 1000)
			if err != nil {
				readerDone <- err
				return
			}
			for _, e := range page {
				read = append(read, e.Sequence)
				after = e.Sequence
			}
			lastRead.Store(after)
		}
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				c, err := f.s.CreateActive(ctx, newCredential(agents[w], credential.StateActive), credential.Verifier{Version: 1, Hash: shaHash})
				if err == nil && i%3 == 0 {
					_, _, err = f.s.Revoke(ctx, agents[w], c.ID, now())
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// Let the reader catch up with everything committed.
	last, err := f.s.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); lastRead.Load() < last && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	if err := <-readerDone; err != nil {
		t.Fatal(err)
	}
	var all []int64
	for _, e := range f.events() {
		all = append(all, e.Sequence)
	}
	if !slices.Equal(read, all) {
		t.Fatalf("the follower read %d events, the feed holds %d: it skipped %v", len(read), len(all), missing(all, read))
	}
}

func missing(all, read []int64) []int64 {
	var out []int64
	for _, s := range all {
		if !slices.Contains(read, s) {
			out = append(out, s)
		}
	}
	return out
}

// WaitForEvents wakes on a commit, and otherwise returns at maxWait or when
// ctx ends.
func waitForEvents(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	t.Run("times out", func(t *testing.T) {
		start := time.Now()
		f.s.WaitForEvents(ctx, 50*time.Millisecond)
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("returned after %s, maxWait 50ms", took)
		}
	})
	t.Run("ctx ends", func(t *testing.T) {
		c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		f.s.WaitForEvents(c, time.Minute)
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("returned after %s, ctx ended after 50ms", took)
		}
	})
	t.Run("a commit wakes it", func(t *testing.T) {
		woke := make(chan struct{})
		start := time.Now()
		go func() {
			f.s.WaitForEvents(ctx, time.Minute)
			close(woke)
		}()
		// Commit until the waiter wakes: a commit made before it started
		// waiting need not wake it.
		for {
			f.hashed(agent, shaHash)
			select {
			case <-woke:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if time.Since(start) > 20*time.Second {
				t.Fatal("no commit woke the waiter within 20s (maxWait 1m)")
			}
		}
	})
}

func endGracePeriods(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	t0 := now()
	withGrace := f.hashed(agent, shaHash)
	f.rotate(withGrace, shaHash2, time.Hour, t0)
	noGrace := f.hashed(agent, shaHash)
	f.rotate(noGrace, shaHash2, 0, t0) // "rotated" already says the old secret stopped
	revoked := f.hashed(agent, shaHash)
	f.rotate(revoked, shaHash2, time.Hour, t0)
	if _, _, err := f.s.Revoke(ctx, agent, revoked.ID, t0); err != nil {
		t.Fatal(err) // "revoked" says it all
	}
	before := len(f.events())
	for _, st := range []struct {
		at   time.Time
		want int
	}{
		{t0.Add(30 * time.Minute), 0},
		{t0.Add(time.Hour), 1}, // the grace ends at this instant
		{t0.Add(2 * time.Hour), 0},
	} {
		if n, err := f.s.EndGracePeriods(ctx, st.at); err != nil || n != st.want {
			t.Fatalf("sweep at %v: %d %v, want %d", st.at, n, err, st.want)
		}
	}
	evs := f.events()[before:]
	if len(evs) != 1 || evs[0].Type != credential.EventGraceEnded || evs[0].CredentialID != withGrace.ID ||
		!evs[0].OccurredAt.Equal(t0.Add(time.Hour)) || evs[0].Owner != "team-a" {
		t.Fatalf("events %+v, want one grace_ended at the grace's end", evs)
	}
}

// Replicas sweep at once: each ended grace period is recorded once.
func concurrentSweepers(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	t0 := now()
	const rotated = 12
	for range rotated {
		f.rotate(f.hashed(agent, shaHash), shaHash2, time.Minute, t0)
	}
	before := len(f.events())
	counts := make([]int, 4)
	var wg sync.WaitGroup
	for i := range counts {
		wg.Go(func() {
			n, err := f.s.EndGracePeriods(ctx, t0.Add(time.Hour))
			if err != nil {
				t.Error(err)
			}
			counts[i] = n
		})
	}
	wg.Wait()
	total := 0
	for _, n := range counts {
		total += n
	}
	if total != rotated || len(f.events())-before != rotated {
		t.Fatalf("sweepers recorded %v (%d in all) and the feed grew by %d; want %d", counts, total, len(f.events())-before, rotated)
	}
}
