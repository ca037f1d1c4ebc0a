package state

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestApplyAgents(t *testing.T) {
	s := NewStore(0)
	t0 := time.Unix(1_800_000_000, 0)
	s.ApplyAgents([]AgentEvent{
		{Sequence: 1, Type: "registered", OccurredAt: t0, AgentID: "A", Status: Active, Scopes: []string{"x"}},
		{Sequence: 2, Type: "suspended", OccurredAt: t0.Add(10 * time.Second), AgentID: "A", Status: Suspended},
		{Sequence: 3, Type: "reactivated", OccurredAt: t0.Add(20 * time.Second), AgentID: "A", Status: Active, Scopes: []string{"y"}},
	})
	a, ok := s.Agent("a") // ids compare case-insensitively
	if !ok || a.Status != Active || a.RevokedThrough != t0.Unix()+10 || a.Scopes[0] != "y" || a.Sequence != 3 {
		t.Fatalf("%+v", a)
	}
	// A replay does not undo newer state.
	s.ApplyAgents([]AgentEvent{{Sequence: 2, Type: "suspended", OccurredAt: t0, AgentID: "A", Status: Suspended}})
	if a, _ := s.Agent("A"); a.Status != Active {
		t.Fatal("replay applied")
	}
	// A lookup does not overwrite the feed's record.
	s.PutLookedUp(NewAgent("a", Suspended, "team-a", nil, 0, 0))
	if a, _ := s.Agent("A"); a.Status != Active {
		t.Fatal("lookup overwrote the feed")
	}
	s.ApplyCredentials([]CredentialEvent{
		{Type: "created", CredentialID: "c1", OccurredAt: t0},
		{Type: "revoked", CredentialID: "C2", OccurredAt: time.Now()},
		{Type: "revoked", CredentialID: "c3", OccurredAt: time.Now().Add(-26 * time.Hour)},
	}, time.Now())
	if s.CredentialRevoked("c1") || !s.CredentialRevoked("c2") || s.CredentialRevoked("c3") || s.CredentialRevoked("") {
		t.Fatal("credential revocations")
	}
	s.Prune(time.Now().Add(26 * time.Hour))
	if s.CredentialRevoked("c2") {
		t.Fatal("not pruned")
	}
}

// feedState stands in for the registry feed's follower (libs/feed tests
// its liveness against a real stream).
type feedState struct {
	live, everLive bool
	downSince      time.Time
}

func (f *feedState) Live() bool     { return f.live }
func (f *feedState) EverLive() bool { return f.everLive }
func (f *feedState) DownFor() time.Duration {
	if f.live {
		return 0
	}
	return time.Since(f.downSince)
}

type directory struct {
	agents map[string]*Agent
	err    error
	calls  int
}

func (d *directory) GetAgent(_ context.Context, id string) (*Agent, error) {
	d.calls++
	if d.err != nil {
		return nil, d.err
	}
	if a, ok := d.agents[id]; ok {
		return a, nil
	}
	return nil, ErrNoAgent
}

func TestResolver(t *testing.T) {
	store := NewStore(0)
	src := &feedState{live: true, everLive: true}
	dir := &directory{agents: map[string]*Agent{"new": NewAgent("new", Active, "team-a", nil, 0, 0)}}
	r := NewResolver(ResolverConfig{Store: store, Feed: src, Directory: dir, MemoFor: 100 * time.Millisecond, StaleIfError: time.Minute})
	store.ApplyAgents([]AgentEvent{{Sequence: 1, AgentID: "known", Status: Active}})

	ctx := context.Background()
	if a, err := r.Agent(ctx, "known"); err != nil || a.ID != "known" || dir.calls != 0 {
		t.Fatalf("projected agent: %v %v (%d lookups)", a, err, dir.calls)
	}
	if a, err := r.Agent(ctx, "new"); err != nil || a.ID != "new" || dir.calls != 1 {
		t.Fatalf("unknown agent looked up: %v %v", a, err)
	}
	if _, err := r.Agent(ctx, "ghost"); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("ghost: %v", err)
	}

	// Feed down: the registry answers, memoised briefly.
	src.live, src.downSince = false, time.Now()
	dir.agents["known"] = NewAgent("known", Suspended, "team-a", nil, 0, 0)
	calls := dir.calls
	if a, _ := r.Agent(ctx, "known"); a.Status != Suspended || dir.calls != calls+1 {
		t.Fatalf("feed down: %+v", a)
	}
	r.Agent(ctx, "known")
	if dir.calls != calls+1 {
		t.Fatal("not memoised")
	}
	// Registry down too: the last known state, within StaleIfError.
	time.Sleep(150 * time.Millisecond)
	dir.err = errors.New("connection refused")
	if a, err := r.Agent(ctx, "known"); err != nil || a.Status != Active {
		t.Fatalf("stale: %+v %v", a, err)
	}
	if _, err := r.Agent(ctx, "never-seen"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unknown with everything down: %v", err)
	}
	// Not beyond StaleIfError into the outage, nor before the feed ever
	// caught up (start-up).
	time.Sleep(150 * time.Millisecond)
	src.downSince = time.Now().Add(-2 * time.Minute)
	if _, err := r.Agent(ctx, "known"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("stale beyond StaleIfError: %v", err)
	}
	src.downSince, src.everLive = time.Now(), false
	time.Sleep(150 * time.Millisecond)
	if _, err := r.Agent(ctx, "known"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("stale before the feed was ever live: %v", err)
	}
}
