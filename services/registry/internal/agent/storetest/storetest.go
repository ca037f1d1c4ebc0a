// Package storetest is the conformance suite every agent.Store must pass:
// the behaviour the registry's service relies on, run against the real
// backing store (internal/store/postgres runs it against PostgreSQL).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/services/registry/internal/agent"
)

// Run runs the suite; newStore returns an empty store for each subtest.
func Run(t *testing.T, newStore func(t *testing.T) agent.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s agent.Store)
	}{
		{"CreateThenGet", createThenGet},
		{"GetUnknown", getUnknown},
		{"CreateIsIdempotentPerOwner", createIsIdempotentPerOwner},
		{"ScopeConfinesReadsAndWrites", scopeConfines},
		{"ListFiltersAndPages", listFiltersAndPages},
		{"UpdateWritesTheNextRevision", updateWritesNextRevision},
		{"UpdateThatChangesNothingWritesNothing", updateNoChange},
		{"UpdateErrorWritesNothing", updateErrorWritesNothing},
		{"UpdatesAreSerialised", updatesAreSerialised},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

var ctx = context.Background()

// now is a store-precision timestamp (PostgreSQL keeps microseconds).
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func newAgent(owner, name string, scopes ...string) agent.Agent {
	id := uuid.Must(uuid.NewV7())
	t := now()
	return agent.Agent{
		ID: id, Name: name, AgentType: "assistant", Owner: owner, Scopes: scopes,
		Capabilities: []string{}, Metadata: map[string]string{"k": "v"}, Status: agent.StatusActive,
		CreatedAt: t, UpdatedAt: t, Revision: 1,
	}
}

func mustCreate(t *testing.T, s agent.Store, a agent.Agent) agent.Agent {
	t.Helper()
	stored, created, err := s.Create(ctx, a, "")
	if err != nil || !created {
		t.Fatalf("create: %v (created %v)", err, created)
	}
	return stored
}

func createThenGet(t *testing.T, s agent.Store) {
	a := newAgent("team-a", "bot", "agents:read")
	stored := mustCreate(t, s, a)
	got, err := s.Get(ctx, a.ID, agent.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID || got.Name != "bot" || got.Owner != "team-a" || !slices.Equal(got.Scopes, []string{"agents:read"}) ||
		got.Metadata["k"] != "v" || got.Status != agent.StatusActive || got.Revision != 1 ||
		!got.CreatedAt.Equal(a.CreatedAt) || got.SuspendedAt != nil || got.DecommissionedAt != nil {
		t.Fatalf("read back %+v", got)
	}
	if stored.ETag() != got.ETag() {
		t.Fatalf("etag %s after create, %s on read", stored.ETag(), got.ETag())
	}
}

func getUnknown(t *testing.T, s agent.Store) {
	_, err := s.Get(ctx, uuid.Must(uuid.NewV7()), agent.Scope{})
	if !errors.Is(err, agent.ErrNotFound) {
		t.Fatalf("unknown id: %v, want ErrNotFound", err)
	}
}

func createIsIdempotentPerOwner(t *testing.T, s agent.Store) {
	first, created, err := s.Create(ctx, newAgent("team-a", "one"), "key-1")
	if err != nil || !created {
		t.Fatalf("first: %v %v", err, created)
	}
	again, created, err := s.Create(ctx, newAgent("team-a", "two"), "key-1")
	if err != nil || created || again.ID != first.ID || again.Name != "one" {
		t.Fatalf("replay: %+v created=%v %v", again, created, err)
	}
	// Another owner's key is its own.
	other, created, err := s.Create(ctx, newAgent("team-b", "three"), "key-1")
	if err != nil || !created || other.ID == first.ID {
		t.Fatalf("another owner's key: %+v created=%v %v", other, created, err)
	}
}

func scopeConfines(t *testing.T, s agent.Store) {
	a := mustCreate(t, s, newAgent("team-a", "a"))
	b := mustCreate(t, s, newAgent("team-b", "b"))
	scopeA := agent.Scope{Owner: "team-a", Confined: true}
	if _, err := s.Get(ctx, b.ID, scopeA); !errors.Is(err, agent.ErrNotFound) {
		t.Fatalf("team-a reading team-b's agent: %v", err)
	}
	if got, err := s.Get(ctx, a.ID, scopeA); err != nil || got.ID != a.ID {
		t.Fatalf("team-a reading its own: %v", err)
	}
	called := false
	_, err := s.Update(ctx, b.ID, scopeA, func(*agent.Agent) (bool, error) { called = true; return true, nil })
	if !errors.Is(err, agent.ErrNotFound) || called {
		t.Fatalf("team-a updating team-b's agent: %v (mutate called %v)", err, called)
	}
	list, err := s.List(ctx, scopeA, agent.Filter{}, uuid.Nil, 100)
	if err != nil || len(list) != 1 || list[0].ID != a.ID {
		t.Fatalf("team-a's list: %v %v", list, err)
	}
	list, err = s.List(ctx, scopeA, agent.Filter{Owner: "team-b"}, uuid.Nil, 100)
	if err != nil || len(list) != 0 {
		t.Fatalf("team-a filtering for team-b: %v %v", list, err)
	}
	list, err = s.List(ctx, agent.Scope{}, agent.Filter{}, uuid.Nil, 100)
	if err != nil || len(list) != 2 {
		t.Fatalf("unconfined list: %v %v", list, err)
	}
}

func listFiltersAndPages(t *testing.T, s agent.Store) {
	var ids []uuid.UUID
	for i := 0; i < 5; i++ {
		a := newAgent("team-a", fmt.Sprintf("Invoice-Bot-%d", i))
		if i%2 == 1 {
			a.Status = agent.StatusSuspended
			a.AgentType = "workflow"
		}
		ids = append(ids, mustCreate(t, s, a).ID)
	}
	mustCreate(t, s, newAgent("team-b", "report-bot"))
	all := agent.Scope{}
	page1, err := s.List(ctx, all, agent.Filter{Owner: "team-a"}, uuid.Nil, 2)
	if err != nil || len(page1) != 2 || page1[0].ID != ids[0] || page1[1].ID != ids[1] {
		t.Fatalf("page 1: %v %v", page1, err)
	}
	page2, err := s.List(ctx, all, agent.Filter{Owner: "team-a"}, page1[1].ID, 10)
	if err != nil || len(page2) != 3 || page2[0].ID != ids[2] {
		t.Fatalf("page 2: %v %v", page2, err)
	}
	for _, tc := range []struct {
		f    agent.Filter
		want int
	}{
		{agent.Filter{Status: agent.StatusSuspended}, 2},
		{agent.Filter{AgentType: "workflow"}, 2},
		{agent.Filter{Search: "invoice"}, 5},
		{agent.Filter{Search: "BOT-3"}, 1},
		{agent.Filter{Search: "%"}, 0}, // LIKE wildcards match literally
		{agent.Filter{Search: "_"}, 0},
		{agent.Filter{Owner: "team-b"}, 1},
	} {
		got, err := s.List(ctx, all, tc.f, uuid.Nil, 100)
		if err != nil || len(got) != tc.want {
			t.Fatalf("%+v: %d agents, want %d (%v)", tc.f, len(got), tc.want, err)
		}
	}
}

func updateWritesNextRevision(t *testing.T, s agent.Store) {
	a := mustCreate(t, s, newAgent("team-a", "a", "agents:read"))
	suspended := now()
	got, err := s.Update(ctx, a.ID, agent.Scope{Owner: "team-a", Confined: true}, func(x *agent.Agent) (bool, error) {
		x.Description, x.Status, x.SuspendedAt, x.UpdatedAt = "changed", agent.StatusSuspended, &suspended, suspended
		return true, nil
	})
	if err != nil || got.Revision != 2 || got.Description != "changed" || got.SuspendedAt == nil || !got.SuspendedAt.Equal(suspended) {
		t.Fatalf("update: %+v %v", got, err)
	}
	read, _ := s.Get(ctx, a.ID, agent.Scope{})
	if read.Revision != 2 || read.Status != agent.StatusSuspended || read.ETag() == a.ETag() {
		t.Fatalf("after update: %+v", read)
	}
}

func updateNoChange(t *testing.T, s agent.Store) {
	a := mustCreate(t, s, newAgent("team-a", "a"))
	got, err := s.Update(ctx, a.ID, agent.Scope{}, func(*agent.Agent) (bool, error) { return false, nil })
	if err != nil || got.Revision != 1 {
		t.Fatalf("no-op update: %+v %v", got, err)
	}
}

func updateErrorWritesNothing(t *testing.T, s agent.Store) {
	a := mustCreate(t, s, newAgent("team-a", "a"))
	boom := errors.New("refused")
	_, err := s.Update(ctx, a.ID, agent.Scope{}, func(x *agent.Agent) (bool, error) {
		x.Name = "half-written"
		return true, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update error: %v", err)
	}
	if got, _ := s.Get(ctx, a.ID, agent.Scope{}); got.Name != "a" || got.Revision != 1 {
		t.Fatalf("after a refused update: %+v", got)
	}
}

// Concurrent updates see each other's writes: no lost update.
func updatesAreSerialised(t *testing.T, s agent.Store) {
	a := mustCreate(t, s, newAgent("team-a", "a"))
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Update(ctx, a.ID, agent.Scope{}, func(x *agent.Agent) (bool, error) {
				x.Capabilities = append(slices.Clone(x.Capabilities), fmt.Sprintf("c%d", len(x.Capabilities)))
				return true, nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.Get(ctx, a.ID, agent.Scope{})
	if len(got.Capabilities) != n || got.Revision != n+1 {
		t.Fatalf("after %d concurrent updates: %d capabilities, revision %d", n, len(got.Capabilities), got.Revision)
	}
}
