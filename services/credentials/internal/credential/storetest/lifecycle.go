package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
)

// The credential's life through Store: create, read, list, revoke, rotate.
var lifecycleTests = []test{
	{"CreateActiveThenGet", createActiveThenGet},
	{"GetIsPerAgent", getIsPerAgent},
	{"CreateForDecommissionedAgent", createForDecommissionedAgent},
	{"ListPagesVisibleCredentials", listPages},
	{"RevokeIsIdempotent", revokeIsIdempotent},
	{"RevokeRacingRotationIsInTheFeed", revokeRacingRotation},
	{"RotateHashed", rotateHashed},
	{"RefusedRotationWritesNothing", refusedRotationWritesNothing},
	{"ConcurrentRotationsSerialise", concurrentRotationsSerialise},
	{"VaultRotation", vaultRotation},
	{"CompleteRotationAfterRevoke", completeRotationAfterRevoke},
	{"ConcurrentBeginRotationsOneWins", concurrentBeginRotationsOneWins},
}

func createActiveThenGet(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	in := newCredential(agent, credential.StateActive)
	in.ExpiresAt = ptr(in.CreatedAt.Add(24 * time.Hour))
	out, err := f.s.CreateActive(ctx, in, credential.Verifier{Version: 1, Hash: shaHash})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]credential.Credential{"created": out, "read": f.get(in)} {
		if c.ID != in.ID || c.AgentID != agent || c.State != credential.StateActive || c.SecretVersion != 1 ||
			c.RotatedFrom != 0 || c.Storage != credential.StorageHash || c.VaultPath != "" || !c.CreatedAt.Equal(in.CreatedAt) ||
			!sameTime(c.ExpiresAt, in.ExpiresAt) || c.RevokedAt != nil || c.RotatedAt != nil || c.LastUsedAt != nil {
			t.Fatalf("%s: %+v", name, c)
		}
	}
	if got := f.eventsOf(in.ID); !slices.Equal(got, []credential.EventType{credential.EventCreated}) {
		t.Fatalf("events %v, want one created", got)
	}
}

// A credential is reached through its agent only (the API's path names both).
func getIsPerAgent(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	c := f.hashed(agent, shaHash)
	for name, ids := range map[string][2]uuid.UUID{
		"another agent's": {uuid.Must(uuid.NewV7()), c.ID},
		"unknown":         {agent, uuid.Must(uuid.NewV7())},
	} {
		if _, err := f.s.Get(ctx, ids[0], ids[1]); !errors.Is(err, credential.ErrNotFound) {
			t.Fatalf("%s credential: %v, want ErrNotFound", name, err)
		}
	}
}

// The projection's decommissioned agent gets no new credential; an agent
// the projection does not know yet does (the service asked the registry).
func createForDecommissionedAgent(t *testing.T, f *fixture) {
	gone := f.agent(credential.AgentDecommissioned, "team-a")
	in := newCredential(gone, credential.StateActive)
	_, err := f.s.CreateActive(ctx, in, credential.Verifier{Version: 1, Hash: shaHash})
	if !errors.Is(err, credential.ErrAgentNotActive) {
		t.Fatalf("create for a decommissioned agent: %v, want ErrAgentNotActive", err)
	}
	if _, err := f.s.Get(ctx, gone, in.ID); !errors.Is(err, credential.ErrNotFound) {
		t.Fatalf("the refused credential: %v, want ErrNotFound", err)
	}
	if evs := f.events(); len(evs) != 0 {
		t.Fatalf("a refused create wrote events %+v", evs)
	}
	f.hashed(uuid.Must(uuid.NewV7()), shaHash) // unknown to the projection
}

func listPages(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	var visible []uuid.UUID
	for i := range 4 {
		c := f.hashed(agent, shaHash)
		if i == 2 {
			if _, _, err := f.s.Revoke(ctx, agent, c.ID, now()); err != nil {
				t.Fatal(err)
			}
		}
		visible = append(visible, c.ID)
	}
	f.pending(agent)
	f.hashed(f.agent(credential.AgentActive, "team-a"), shaHash)
	page1, err := f.s.List(ctx, agent, uuid.Nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	page2, err := f.s.List(ctx, agent, page1[len(page1)-1].ID, 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []uuid.UUID
	for _, c := range append(page1, page2...) {
		got = append(got, c.ID)
	}
	if len(page1) != 3 || !slices.Equal(got, visible) {
		t.Fatalf("pages of %d and %d: %v, want %v in id order (revoked included, pending not)", len(page1), len(page2), got, visible)
	}
	if page1[2].State != credential.StateRevoked {
		t.Fatalf("the revoked credential is listed as %s", page1[2].State)
	}
}

func revokeIsIdempotent(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	c := f.hashed(agent, shaHash)
	at := now()
	got, changed, err := f.s.Revoke(ctx, agent, c.ID, at)
	if err != nil || !changed || got.State != credential.StateRevoked || !sameTime(got.RevokedAt, &at) {
		t.Fatalf("revoke: %+v changed=%v %v", got, changed, err)
	}
	again, changed, err := f.s.Revoke(ctx, agent, c.ID, at.Add(time.Minute))
	if err != nil || changed || again.State != credential.StateRevoked || !sameTime(again.RevokedAt, &at) {
		t.Fatalf("revoke again: %+v changed=%v %v; want unchanged, revoked at %v", again, changed, err, at)
	}
	if evs := f.eventsOf(c.ID); !slices.Equal(evs, []credential.EventType{credential.EventCreated, credential.EventRevoked}) {
		t.Fatalf("events %v, want created, revoked", evs)
	}
	for name, ids := range map[string][2]uuid.UUID{
		"another agent's": {uuid.Must(uuid.NewV7()), c.ID},
		"unknown":         {agent, uuid.Must(uuid.NewV7())},
		"pending":         {agent, f.pending(agent).ID},
	} {
		if _, _, err := f.s.Revoke(ctx, ids[0], ids[1], at); !errors.Is(err, credential.ErrNotFound) {
			t.Fatalf("revoke %s credential: %v, want ErrNotFound", name, err)
		}
	}
}

// A revocation that commits right after a rotation still says so: it is
// reported as a change and recorded in the feed, which is how the token
// service's caches learn that the secret stopped working.
func revokeRacingRotation(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	for i := range 10 {
		c := f.hashed(agent, shaHash)
		var wg sync.WaitGroup
		var changed bool
		var revokeErr, rotateErr error
		wg.Go(func() {
			_, rotateErr = f.s.RotateHashed(ctx, agent, c.ID, func(c credential.Credential) error {
				if c.State != credential.StateActive {
					return credential.ErrNotActive
				}
				return nil
			}, credential.Verifier{Hash: shaHash2}, time.Hour, now())
		})
		wg.Go(func() { _, changed, revokeErr = f.s.Revoke(ctx, agent, c.ID, now()) })
		wg.Wait()
		if revokeErr != nil || (rotateErr != nil && !errors.Is(rotateErr, credential.ErrNotActive)) {
			t.Fatalf("round %d: revoke %v, rotate %v", i, revokeErr, rotateErr)
		}
		got := f.get(c)
		evs := f.eventsOf(c.ID)
		if got.State != credential.StateRevoked || !changed || !slices.Contains(evs, credential.EventRevoked) {
			t.Fatalf("round %d: %s, revoke reported changed=%v, events %v", i, got.State, changed, evs)
		}
	}
}

func rotateHashed(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	c := f.hashed(agent, shaHash)
	at := now()
	var seen credential.Credential
	got, err := f.s.RotateHashed(ctx, agent, c.ID, func(c credential.Credential) error { seen = c; return nil },
		credential.Verifier{Hash: shaHash2}, time.Hour, at)
	if err != nil {
		t.Fatal(err)
	}
	if seen.ID != c.ID || seen.SecretVersion != 1 {
		t.Fatalf("check saw %+v, want the credential at version 1", seen)
	}
	for name, r := range map[string]credential.Credential{"rotated": got, "read": f.get(c)} {
		if r.SecretVersion != 2 || r.RotatedFrom != 1 || !sameTime(r.RotatedAt, &at) ||
			!sameTime(r.PreviousSecretExpiresAt, ptr(at.Add(time.Hour))) || r.State != credential.StateActive || r.Storage != credential.StorageHash {
			t.Fatalf("%s: %+v", name, r)
		}
	}
	rec, err := f.s.ForVerify(ctx, c.ID)
	if err != nil || rec.Current.Hash != shaHash2 || rec.Current.Version != 2 || rec.Previous == nil || rec.Previous.Hash != shaHash || rec.Previous.Version != 1 {
		t.Fatalf("verifiers after the rotation: %+v %+v %v", rec.Current, rec.Previous, err)
	}
	third := f.rotate(c, shaHash, 0, at.Add(time.Second))
	if third.SecretVersion != 3 || third.RotatedFrom != 2 {
		t.Fatalf("second rotation: version %d from %d", third.SecretVersion, third.RotatedFrom)
	}
	want := []credential.EventType{credential.EventCreated, credential.EventRotated, credential.EventRotated}
	if evs := f.eventsOf(c.ID); !slices.Equal(evs, want) {
		t.Fatalf("events %v, want %v", evs, want)
	}
}

// check is the service's say (revoked, expired, another agent's scopes):
// its error is returned as is and nothing is written.
func refusedRotationWritesNothing(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	c := f.hashed(agent, shaHash)
	boom := errors.New("refused")
	_, err := f.s.RotateHashed(ctx, agent, c.ID, func(credential.Credential) error { return boom }, credential.Verifier{Hash: shaHash2}, time.Hour, now())
	if !errors.Is(err, boom) {
		t.Fatalf("rotate: %v, want the check's error", err)
	}
	_, _, err = f.s.BeginRotation(ctx, agent, c.ID, func(credential.Credential) error { return boom }, vaultPath(agent, c.ID), now())
	if !errors.Is(err, boom) {
		t.Fatalf("begin rotation: %v, want the check's error", err)
	}
	if got := f.get(c); got.SecretVersion != 1 || got.RotatedAt != nil || got.VaultPath != "" {
		t.Fatalf("after refused rotations: %+v", got)
	}
	if ids := f.pendingRotations(); len(ids) != 0 {
		t.Fatalf("a refused rotation left pending versions %v", ids)
	}
	if evs := f.eventsOf(c.ID); len(evs) != 1 {
		t.Fatalf("events %v, want only created", evs)
	}
	called := false
	_, err = f.s.RotateHashed(ctx, uuid.Must(uuid.NewV7()), c.ID, func(credential.Credential) error { called = true; return nil },
		credential.Verifier{Hash: shaHash2}, 0, now())
	if !errors.Is(err, credential.ErrNotFound) || called {
		t.Fatalf("rotating another agent's credential: %v (check called: %v)", err, called)
	}
}

// Rotations of one credential are serialised: each sees the one before.
func concurrentRotationsSerialise(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	c := f.hashed(agent, shaHash)
	const n = 8
	var mu sync.Mutex
	var seen []int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := f.s.RotateHashed(ctx, agent, c.ID, func(c credential.Credential) error {
				mu.Lock()
				seen = append(seen, c.SecretVersion)
				mu.Unlock()
				return nil
			}, credential.Verifier{Hash: shaHash2}, time.Minute, now())
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	slices.Sort(seen)
	if got := f.get(c); got.SecretVersion != n+1 || !slices.Equal(seen, []int64{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Fatalf("after %d concurrent rotations: version %d; checks saw versions %v", n, got.SecretVersion, seen)
	}
}

// Vault mode: the next version is committed as pending, written to Vault,
// then made current.
func vaultRotation(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	c := f.hashed(agent, shaHash) // a hashed credential moves to Vault
	path := vaultPath(agent, c.ID)
	began := now()
	before, next, err := f.s.BeginRotation(ctx, agent, c.ID, func(credential.Credential) error { return nil }, path, began)
	if err != nil || next != 2 || before.SecretVersion != 1 {
		t.Fatalf("begin: version %d, next %d, %v", before.SecretVersion, next, err)
	}
	if got := f.get(c); got.SecretVersion != 1 || got.Storage != credential.StorageHash {
		t.Fatalf("a pending version is not current yet: %+v", got)
	}
	var pe *credential.PendingError
	_, _, err = f.s.BeginRotation(ctx, agent, c.ID, func(credential.Credential) error { return nil }, path, now())
	if !errors.As(err, &pe) || !pe.Since.Equal(began) {
		t.Fatalf("second begin: %v, want a PendingError since %v", err, began)
	}
	_, err = f.s.RotateHashed(ctx, agent, c.ID, func(credential.Credential) error { return nil }, credential.Verifier{Hash: shaHash2}, 0, now())
	if !errors.As(err, &pe) {
		t.Fatalf("hashed rotation during a pending one: %v, want a PendingError", err)
	}
	at := now()
	done, err := f.s.CompleteRotation(ctx, c.ID, next, 7, time.Hour, at)
	if err != nil {
		t.Fatal(err)
	}
	if done.SecretVersion != 2 || done.RotatedFrom != 1 || done.Storage != credential.StorageVault || done.VaultPath != path ||
		!sameTime(done.PreviousSecretExpiresAt, ptr(at.Add(time.Hour))) {
		t.Fatalf("completed: %+v", done)
	}
	rec, err := f.s.ForVerify(ctx, c.ID)
	if err != nil || rec.Current.VaultVersion != 7 || rec.Current.Hash != "" || rec.Previous == nil || rec.Previous.Hash != shaHash {
		t.Fatalf("verifiers: %+v %+v %v", rec.Current, rec.Previous, err)
	}
	if _, err := f.s.CompleteRotation(ctx, c.ID, next, 8, time.Hour, now()); !errors.Is(err, credential.ErrPendingGone) {
		t.Fatalf("completing again: %v, want ErrPendingGone", err)
	}
	if _, err := f.s.CompleteRotation(ctx, uuid.Must(uuid.NewV7()), 2, 1, 0, now()); !errors.Is(err, credential.ErrPendingGone) {
		t.Fatalf("completing an unknown credential: %v, want ErrPendingGone", err)
	}
	want := []credential.EventType{credential.EventCreated, credential.EventRotated}
	if evs := f.eventsOf(c.ID); !slices.Equal(evs, want) {
		t.Fatalf("events %v, want %v", evs, want)
	}
}

// A revocation during a rotation wins: the rotation cannot complete and
// its pending version stays for the service to undo.
func completeRotationAfterRevoke(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	c := f.inVault(agent)
	_, next, err := f.s.BeginRotation(ctx, agent, c.ID, func(credential.Credential) error { return nil }, c.VaultPath, now())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.Revoke(ctx, agent, c.ID, now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.CompleteRotation(ctx, c.ID, next, 2, 0, now()); !errors.Is(err, credential.ErrNotActive) {
		t.Fatalf("completing a revoked credential's rotation: %v, want ErrNotActive", err)
	}
	if got := f.get(c); got.State != credential.StateRevoked || got.SecretVersion != 1 {
		t.Fatalf("after the refused completion: %+v", got)
	}
	if ids := f.pendingRotations(); !slices.Equal(ids, []uuid.UUID{c.ID}) {
		t.Fatalf("pending rotations %v, want the revoked credential's", ids)
	}
}

// Replicas beginning a rotation of one credential at once: one wins, the
// others learn that a rotation is pending.
func concurrentBeginRotationsOneWins(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	c := f.inVault(agent)
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, _, errs[i] = f.s.BeginRotation(ctx, agent, c.ID, func(credential.Credential) error { return nil }, c.VaultPath, now())
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		var pe *credential.PendingError
		switch {
		case err == nil:
			won++
		case !errors.As(err, &pe):
			t.Fatalf("begin: %v, want nil or a PendingError", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent begins succeeded, want 1", won)
	}
}
