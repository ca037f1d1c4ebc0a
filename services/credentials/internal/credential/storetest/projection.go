package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
)

// The projection of the registry's agents (ApplyAgent, ProjectedAgent) and
// what a decommissioning does to credentials.
var projectionTests = []test{
	{"ProjectedAgentFollowsTheFeed", projectedAgentFollowsTheFeed},
	{"ReplayLearnsAMissingOwner", replayLearnsAMissingOwner},
	{"DecommissionRevokesOnce", decommissionRevokesOnce},
	{"DecommissionRacingCreate", decommissionRacingCreate},
}

func projected(t *testing.T, f *fixture, id uuid.UUID) *credential.Agent {
	t.Helper()
	a, err := f.s.ProjectedAgent(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Events apply in feed order; a replayed (older) event changes nothing.
func projectedAgentFollowsTheFeed(t *testing.T, f *fixture) {
	id := uuid.Must(uuid.NewV7())
	if a := projected(t, f, id); a != nil {
		t.Fatalf("an agent the feed has not brought: %+v, want nil", a)
	}
	steps := []struct {
		name       string
		seq        int64
		in         credential.Agent
		wantStatus string
		wantScopes []string
	}{
		{"first event", 5, credential.Agent{ID: id, Status: credential.AgentActive, Scopes: []string{"a"}, Owner: "team-a"}, credential.AgentActive, []string{"a"}},
		{"a replay of an older event", 3, credential.Agent{ID: id, Status: credential.AgentSuspended, Scopes: []string{"old"}, Owner: "team-a"}, credential.AgentActive, []string{"a"}},
		{"the same event again", 5, credential.Agent{ID: id, Status: credential.AgentSuspended, Scopes: nil, Owner: "team-a"}, credential.AgentActive, []string{"a"}},
		{"a newer event", 6, credential.Agent{ID: id, Status: credential.AgentSuspended, Scopes: nil, Owner: "team-a"}, credential.AgentSuspended, nil},
	}
	for _, st := range steps {
		if _, err := f.s.ApplyAgent(ctx, st.in, st.seq, now()); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		a := projected(t, f, id)
		if a == nil || a.ID != id || a.Status != st.wantStatus || len(a.Scopes) != len(st.wantScopes) ||
			(len(st.wantScopes) > 0 && !slices.Equal(a.Scopes, st.wantScopes)) || a.Owner != "team-a" {
			t.Fatalf("%s: %+v, want %s %v", st.name, a, st.wantStatus, st.wantScopes)
		}
	}
}

// A row projected before owners were recorded learns its owner from any
// event, a replay included, without taking the replay's older state.
func replayLearnsAMissingOwner(t *testing.T, f *fixture) {
	id := uuid.Must(uuid.NewV7())
	if _, err := f.s.ApplyAgent(ctx, credential.Agent{ID: id, Status: credential.AgentSuspended, Owner: ""}, 10, now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.ApplyAgent(ctx, credential.Agent{ID: id, Status: credential.AgentActive, Owner: "team-a"}, 4, now()); err != nil {
		t.Fatal(err)
	}
	if a := projected(t, f, id); a.Owner != "team-a" || a.Status != credential.AgentSuspended {
		t.Fatalf("after the replay: %+v, want owner team-a, still suspended", a)
	}
	// An owner once known is not overwritten by an old event.
	if _, err := f.s.ApplyAgent(ctx, credential.Agent{ID: id, Status: credential.AgentActive, Owner: "team-old"}, 5, now()); err != nil {
		t.Fatal(err)
	}
	if a := projected(t, f, id); a.Owner != "team-a" {
		t.Fatalf("an older event changed the owner to %q", a.Owner)
	}
}

func decommissionRevokesOnce(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	a1, a2 := f.hashed(agent, shaHash), f.inVault(agent)
	revoked := f.hashed(agent, shaHash)
	if _, _, err := f.s.Revoke(ctx, agent, revoked.ID, now()); err != nil {
		t.Fatal(err)
	}
	p := f.pending(agent)
	other := f.hashed(f.agent(credential.AgentActive, "team-a"), shaHash)
	before := len(f.events())
	at := now()
	f.seq++
	gone := credential.Agent{ID: agent, Status: credential.AgentDecommissioned, Owner: "team-a"}
	ids, err := f.s.ApplyAgent(ctx, gone, f.seq, at)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	if !slices.Equal(ids, []uuid.UUID{a1.ID, a2.ID}) {
		t.Fatalf("revoked %v, want the two active credentials %v", ids, []uuid.UUID{a1.ID, a2.ID})
	}
	for _, c := range []credential.Credential{a1, a2} {
		if got := f.get(c); got.State != credential.StateRevoked || !sameTime(got.RevokedAt, &at) {
			t.Fatalf("after the decommission: %+v", got)
		}
	}
	if got := f.get(other); got.State != credential.StateActive {
		t.Fatalf("another agent's credential: %+v", got)
	}
	evs := f.events()[before:]
	if len(evs) != 2 {
		t.Fatalf("events %+v, want two revocations", evs)
	}
	for _, e := range evs {
		if e.Type != credential.EventRevoked || e.AgentID != agent || e.Owner != "team-a" || !e.OccurredAt.Equal(at) {
			t.Fatalf("event %+v", e)
		}
	}
	// Replays (the same event, an older one) revoke nothing more.
	for _, seq := range []int64{f.seq, f.seq - 1} {
		if ids, err := f.s.ApplyAgent(ctx, gone, seq, now()); err != nil || len(ids) != 0 {
			t.Fatalf("replay at %d revoked %v, %v", seq, ids, err)
		}
	}
	if n := len(f.events()); n != before+2 {
		t.Fatalf("replays wrote %d events", n-before-2)
	}
	if _, err := f.s.Activate(ctx, p.ID, 1); !errors.Is(err, credential.ErrAgentNotActive) {
		t.Fatalf("activating a pending credential of the decommissioned agent: %v", err)
	}
}

// A create and the agent's decommissioning at the same moment: either the
// create sees the agent decommissioned, or the decommissioning revokes the
// new credential. No active credential of a decommissioned agent remains.
func decommissionRacingCreate(t *testing.T, f *fixture) {
	for range 20 {
		agent := f.agent(credential.AgentActive, "team-a")
		f.seq++
		seq := f.seq
		var wg sync.WaitGroup
		var createErr, applyErr error
		var created credential.Credential
		wg.Go(func() {
			created, createErr = f.s.CreateActive(ctx, newCredential(agent, credential.StateActive), credential.Verifier{Version: 1, Hash: shaHash})
		})
		wg.Go(func() {
			_, applyErr = f.s.ApplyAgent(ctx, credential.Agent{ID: agent, Status: credential.AgentDecommissioned, Owner: "team-a"}, seq, now())
		})
		wg.Wait()
		if applyErr != nil {
			t.Fatal(applyErr)
		}
		switch {
		case errors.Is(createErr, credential.ErrAgentNotActive):
		case createErr != nil:
			t.Fatal(createErr)
		default:
			if got := f.get(created); got.State != credential.StateRevoked {
				t.Fatalf("a credential created while its agent was decommissioned is %s", got.State)
			}
		}
	}
}
