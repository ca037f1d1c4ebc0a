package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
)

// Pending rows: half-written state, invisible to readers, completed by the
// request or undone by the reconciler.
var pendingTests = []test{
	{"PendingIsInvisible", pendingIsInvisible},
	{"Activate", activate},
	{"ActivateAfterDecommission", activateAfterDecommission},
	{"PendingListsAreByAge", pendingListsAreByAge},
	{"UndoPendingCredential", undoPendingCredential},
	{"UndoPendingRotation", undoPendingRotation},
	{"UndoPendingRotationOfAMoveToVault", undoMoveToVault},
	{"ActivateRacingUndoFindsNothing", activateRacingUndo},
	{"CompleteRotationRacingUndoFindsNothing", completeRacingUndo},
}

func pendingIsInvisible(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	c := f.pending(agent)
	if _, err := f.s.Get(ctx, agent, c.ID); !errors.Is(err, credential.ErrNotFound) {
		t.Fatalf("get: %v, want ErrNotFound", err)
	}
	if list, err := f.s.List(ctx, agent, uuid.Nil, 10); err != nil || len(list) != 0 {
		t.Fatalf("list: %d credentials, %v", len(list), err)
	}
	if _, err := f.s.ForVerify(ctx, c.ID); !errors.Is(err, credential.ErrNotFound) {
		t.Fatalf("verify: %v, want ErrNotFound", err)
	}
	if recs, err := f.s.LegacyForVerify(ctx, agent, shaHash); err != nil || len(recs) != 0 {
		t.Fatalf("legacy verify: %d records, %v", len(recs), err)
	}
	_, _, err := f.s.BeginRotation(ctx, agent, c.ID, func(credential.Credential) error { return nil }, c.VaultPath, now())
	if !errors.Is(err, credential.ErrNotFound) {
		t.Fatalf("rotate: %v, want ErrNotFound", err)
	}
	if evs := f.events(); len(evs) != 0 {
		t.Fatalf("a pending credential is in the feed: %+v", evs)
	}
}

func activate(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	p := f.pending(agent)
	c, err := f.s.Activate(ctx, p.ID, 3)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]credential.Credential{"activated": c, "read": f.get(p)} {
		if got.State != credential.StateActive || got.Storage != credential.StorageVault || got.VaultPath != p.VaultPath ||
			got.SecretVersion != 1 || !got.CreatedAt.Equal(p.CreatedAt) {
			t.Fatalf("%s: %+v", name, got)
		}
	}
	rec, err := f.s.ForVerify(ctx, p.ID)
	if err != nil || rec.Current.VaultVersion != 3 || rec.Current.Hash != "" {
		t.Fatalf("verifier: %+v %v", rec.Current, err)
	}
	if _, err := f.s.Activate(ctx, p.ID, 4); !errors.Is(err, credential.ErrPendingGone) {
		t.Fatalf("activating again: %v, want ErrPendingGone", err)
	}
	if _, err := f.s.Activate(ctx, uuid.Must(uuid.NewV7()), 1); !errors.Is(err, credential.ErrPendingGone) {
		t.Fatalf("activating an unknown credential: %v, want ErrPendingGone", err)
	}
	if evs := f.eventsOf(p.ID); !slices.Equal(evs, []credential.EventType{credential.EventCreated}) {
		t.Fatalf("events %v, want one created", evs)
	}
	if ids := f.pendingCredentials(); len(ids) != 0 {
		t.Fatalf("still pending: %v", ids)
	}
}

// Decommissioned while its Vault write was in flight: never activated,
// left pending for the undo.
func activateAfterDecommission(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	p := f.pending(agent)
	if revoked := f.apply(credential.Agent{ID: agent, Status: credential.AgentDecommissioned, Owner: "team-a"}); len(revoked) != 0 {
		t.Fatalf("the decommission revoked a pending credential: %v", revoked)
	}
	if _, err := f.s.Activate(ctx, p.ID, 1); !errors.Is(err, credential.ErrAgentNotActive) {
		t.Fatalf("activate: %v, want ErrAgentNotActive", err)
	}
	if ids := f.pendingCredentials(); !slices.Equal(ids, []uuid.UUID{p.ID}) {
		t.Fatalf("pending credentials %v, want the refused one", ids)
	}
	if evs := f.events(); len(evs) != 0 {
		t.Fatalf("events %+v, want none", evs)
	}
}

// The reconciler lists rows created strictly before its horizon, oldest
// first; committed credentials are not pending creations, pending
// credentials not pending rotations.
func pendingListsAreByAge(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	p1 := f.pending(agent)
	time.Sleep(2 * time.Millisecond)
	p2 := f.pending(agent)
	c := f.inVault(agent)
	began := now()
	if _, _, err := f.s.BeginRotation(ctx, agent, c.ID, func(credential.Credential) error { return nil }, c.VaultPath, began); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		list func() ([]uuid.UUID, error)
		want []uuid.UUID
	}{
		{"credentials before p2", func() ([]uuid.UUID, error) { return f.s.PendingCredentials(ctx, p2.CreatedAt) }, []uuid.UUID{p1.ID}},
		{"credentials after both", func() ([]uuid.UUID, error) { return f.s.PendingCredentials(ctx, began.Add(time.Second)) }, []uuid.UUID{p1.ID, p2.ID}},
		{"credentials before p1", func() ([]uuid.UUID, error) { return f.s.PendingCredentials(ctx, p1.CreatedAt) }, nil},
		{"rotations at its start", func() ([]uuid.UUID, error) { return f.s.PendingRotations(ctx, began) }, nil},
		{"rotations after its start", func() ([]uuid.UUID, error) { return f.s.PendingRotations(ctx, began.Add(time.Microsecond)) }, []uuid.UUID{c.ID}},
	} {
		got, err := tc.list()
		if err != nil || !slices.Equal(got, tc.want) {
			t.Fatalf("%s: %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
}

func undoPendingCredential(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	p := f.pending(agent)
	active := f.inVault(agent)
	horizon := now().Add(time.Second)
	boom := errors.New("vault down")
	var calls []credential.Credential
	undo := func(err error) func(credential.Credential) error {
		return func(c credential.Credential) error { calls = append(calls, c); return err }
	}
	steps := []struct {
		name      string
		id        uuid.UUID
		olderThan time.Time
		undoErr   error
		wantDone  bool
		wantCall  bool
		wantErr   error
	}{
		{"too young", p.ID, p.CreatedAt, nil, false, false, nil},
		{"an active credential", active.ID, horizon, nil, false, false, nil},
		{"undo fails", p.ID, horizon, boom, false, true, boom},
		{"undo succeeds", p.ID, horizon, nil, true, true, nil},
		{"already undone", p.ID, horizon, nil, false, false, nil},
	}
	for _, st := range steps {
		calls = nil
		done, err := f.s.UndoPendingCredential(ctx, st.id, st.olderThan, undo(st.undoErr))
		if done != st.wantDone || (len(calls) == 1) != st.wantCall || !errors.Is(err, st.wantErr) || (st.wantErr == nil && err != nil) {
			t.Fatalf("%s: done=%v, %d undo calls, %v", st.name, done, len(calls), err)
		}
		if st.wantCall && (calls[0].ID != p.ID || calls[0].AgentID != agent || calls[0].VaultPath != p.VaultPath) {
			t.Fatalf("%s: undo saw %+v", st.name, calls[0])
		}
		if st.name == "undo fails" {
			if ids := f.pendingCredentials(); !slices.Equal(ids, []uuid.UUID{p.ID}) {
				t.Fatalf("after a failed undo: pending %v, want it still", ids)
			}
		}
	}
	if ids := f.pendingCredentials(); len(ids) != 0 {
		t.Fatalf("after the undo: pending %v", ids)
	}
	if _, err := f.s.Activate(ctx, p.ID, 1); !errors.Is(err, credential.ErrPendingGone) {
		t.Fatalf("activating an undone credential: %v, want ErrPendingGone", err)
	}
	if got := f.get(active); got.State != credential.StateActive {
		t.Fatalf("the active credential: %+v", got)
	}
}

func undoPendingRotation(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	c := f.inVault(agent) // version 1 at KV version 1
	if _, next, err := f.s.BeginRotation(ctx, agent, c.ID, func(credential.Credential) error { return nil }, c.VaultPath, now()); err != nil {
		t.Fatal(err)
	} else if _, err := f.s.CompleteRotation(ctx, c.ID, next, 2, time.Hour, now()); err != nil {
		t.Fatal(err)
	}
	began := now()
	if _, next, err := f.s.BeginRotation(ctx, agent, c.ID, func(credential.Credential) error { return nil }, c.VaultPath, began); err != nil || next != 3 {
		t.Fatalf("begin: next %d, %v", next, err)
	}
	horizon := began.Add(time.Second)
	boom := errors.New("vault down")
	var referenced []int64
	calls := 0
	undo := func(err error) func(credential.Credential, []int64) error {
		return func(got credential.Credential, refs []int64) error {
			calls++
			if got.ID != c.ID || got.SecretVersion != 2 {
				t.Errorf("undo saw %+v", got)
			}
			referenced = slices.Sorted(slices.Values(refs))
			return err
		}
	}
	steps := []struct {
		name      string
		olderThan time.Time
		undoErr   error
		wantDone  bool
		wantCall  bool
	}{
		{"too young", began, nil, false, false},
		{"undo fails", horizon, boom, false, true},
		{"undo succeeds", horizon, nil, true, true},
		{"already undone", horizon, nil, false, false},
	}
	for _, st := range steps {
		calls = 0
		done, err := f.s.UndoPendingRotation(ctx, c.ID, st.olderThan, undo(st.undoErr))
		if done != st.wantDone || (calls == 1) != st.wantCall || (st.undoErr != nil) != (err != nil) || (st.undoErr != nil && !errors.Is(err, st.undoErr)) {
			t.Fatalf("%s: done=%v, %d undo calls, %v", st.name, done, calls, err)
		}
		if st.name == "undo fails" {
			if ids := f.pendingRotations(); !slices.Equal(ids, []uuid.UUID{c.ID}) {
				t.Fatalf("after a failed undo: pending rotations %v", ids)
			}
		}
	}
	// Both committed versions' KV versions are in use (the previous one
	// until its grace ends): the undo must not destroy them.
	if !slices.Equal(referenced, []int64{1, 2}) {
		t.Fatalf("undo was told KV versions %v are referenced, want [1 2]", referenced)
	}
	if got := f.get(c); got.SecretVersion != 2 || got.VaultPath != c.VaultPath || got.Storage != credential.StorageVault {
		t.Fatalf("after the undo: %+v", got)
	}
	// The version number is free again.
	if _, next, err := f.s.BeginRotation(ctx, agent, c.ID, func(credential.Credential) error { return nil }, c.VaultPath, now()); err != nil || next != 3 {
		t.Fatalf("begin after the undo: next %d, %v", next, err)
	}
}

// A hashed credential whose first rotation into Vault is undone has
// nothing in Vault: it must not keep pointing there.
func undoMoveToVault(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	c := f.hashed(agent, shaHash)
	path := vaultPath(agent, c.ID)
	if _, _, err := f.s.BeginRotation(ctx, agent, c.ID, func(credential.Credential) error { return nil }, path, now()); err != nil {
		t.Fatal(err)
	}
	var refs []int64
	var seen credential.Credential
	done, err := f.s.UndoPendingRotation(ctx, c.ID, now().Add(time.Second), func(c credential.Credential, r []int64) error {
		seen, refs = c, r
		return nil
	})
	if err != nil || !done || len(refs) != 0 || seen.VaultPath != path {
		t.Fatalf("undo: done=%v, referenced %v, saw path %q, %v", done, refs, seen.VaultPath, err)
	}
	if got := f.get(c); got.VaultPath != "" || got.Storage != credential.StorageHash || got.SecretVersion != 1 {
		t.Fatalf("after the undo: %+v", got)
	}
	rec, err := f.s.ForVerify(ctx, c.ID)
	if err != nil || rec.Current.Hash != shaHash {
		t.Fatalf("verifier after the undo: %+v %v", rec.Current, err)
	}
}

// holdUndo runs undo with a callback that waits until release is closed,
// and reports when the callback started and what the undo returned.
func holdUndo(run func(hold func() error) (bool, error)) (started chan struct{}, release chan struct{}, result chan error) {
	started, release, result = make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done, err := run(func() error { close(started); <-release; return nil })
		if err == nil && !done {
			err = errors.New("the undo found nothing to undo")
		}
		result <- err
	}()
	return started, release, result
}

// raceWindow is how long a racing call gets to reach the row the undo
// holds before the undo finishes: longer than PostgreSQL's default
// deadlock_timeout (1s), so a lock-order inversion shows as the undo
// losing, not only as the racer failing.
const raceWindow = 1500 * time.Millisecond

// The reconciler's undo holds the pending credential while it deletes what
// reached Vault; a request activating it meanwhile must wait and then find
// it gone (ErrPendingGone, on which it discards its own write), never
// activate a credential whose secret the undo destroyed.
func activateRacingUndo(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	p := f.pending(agent)
	started, release, undone := holdUndo(func(hold func() error) (bool, error) {
		return f.s.UndoPendingCredential(ctx, p.ID, now().Add(time.Second), func(credential.Credential) error { return hold() })
	})
	<-started
	activated := make(chan error, 1)
	go func() {
		_, err := f.s.Activate(ctx, p.ID, 1)
		activated <- err
	}()
	time.Sleep(raceWindow)
	close(release)
	if err := <-undone; err != nil {
		t.Errorf("the undo: %v", err)
	}
	if err := <-activated; !errors.Is(err, credential.ErrPendingGone) {
		t.Errorf("activating during the undo: %v, want ErrPendingGone", err)
	}
	if _, err := f.s.Get(ctx, agent, p.ID); !errors.Is(err, credential.ErrNotFound) {
		t.Errorf("after the race the credential is visible (%v): active with its secret destroyed", err)
	}
}

// The same for a rotation: its completion waits for the undo and then
// finds its pending version gone.
func completeRacingUndo(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	c := f.inVault(agent)
	_, next, err := f.s.BeginRotation(ctx, agent, c.ID, func(credential.Credential) error { return nil }, c.VaultPath, now())
	if err != nil {
		t.Fatal(err)
	}
	started, release, undone := holdUndo(func(hold func() error) (bool, error) {
		return f.s.UndoPendingRotation(ctx, c.ID, now().Add(time.Second), func(credential.Credential, []int64) error { return hold() })
	})
	<-started
	completed := make(chan error, 1)
	go func() {
		_, err := f.s.CompleteRotation(ctx, c.ID, next, 2, 0, now())
		completed <- err
	}()
	time.Sleep(raceWindow)
	close(release)
	if err := <-undone; err != nil {
		t.Errorf("the undo: %v", err)
	}
	if err := <-completed; !errors.Is(err, credential.ErrPendingGone) {
		t.Errorf("completing during the undo: %v, want ErrPendingGone", err)
	}
	if got := f.get(c); got.SecretVersion != 1 {
		t.Errorf("after the race the credential is at version %d, want 1", got.SecretVersion)
	}
}
