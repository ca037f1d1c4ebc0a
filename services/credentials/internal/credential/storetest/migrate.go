package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
)

// Moving a secret version from a legacy KV version (one holding a secret)
// to the KV version holding its verifier.
var migrateTests = []test{
	{"MoveVaultVersion", moveVaultVersion},
	{"MoveVaultVersionRefusesWhileRotating", moveWhileRotating},
	{"VaultCredentialsPages", vaultCredentialsPages},
}

func moveVaultVersion(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	c := f.inVault(agent) // secret version 1 at KV version 1
	wrote := 0
	write := func(context.Context) (int64, error) { wrote++; return 2, nil }
	// A stale expectation changes nothing and does not write.
	if moved, err := f.s.MoveVaultVersion(ctx, c.ID, 1, 7, write); err != nil || moved || wrote != 0 {
		t.Fatalf("stale from: moved=%v wrote=%d %v", moved, wrote, err)
	}
	if moved, err := f.s.MoveVaultVersion(ctx, c.ID, 1, 1, write); err != nil || !moved || wrote != 1 {
		t.Fatalf("move: moved=%v wrote=%d %v", moved, wrote, err)
	}
	rec, err := f.s.ForVerify(ctx, c.ID)
	if err != nil || rec.Current.Version != 1 || rec.Current.VaultVersion != 2 {
		t.Fatalf("after the move: %+v %v", rec.Current, err)
	}
	// Done once: a second attempt with the old version does nothing.
	if moved, err := f.s.MoveVaultVersion(ctx, c.ID, 1, 1, write); err != nil || moved || wrote != 1 {
		t.Fatalf("second move: moved=%v wrote=%d %v", moved, wrote, err)
	}
	// A failed write rolls back.
	boom := errors.New("vault down")
	if _, err := f.s.MoveVaultVersion(ctx, c.ID, 1, 2, func(context.Context) (int64, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Fatalf("failed write: %v", err)
	}
	if rec, _ := f.s.ForVerify(ctx, c.ID); rec.Current.VaultVersion != 2 {
		t.Fatalf("a failed write changed the reference: %+v", rec.Current)
	}
	// The credential's history is unchanged: no event for a move.
	if evs := f.eventsOf(c.ID); len(evs) != 1 || evs[0] != credential.EventCreated {
		t.Fatalf("events %v, want only created", evs)
	}
}

func moveWhileRotating(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	c := f.inVault(agent)
	if _, _, err := f.s.BeginRotation(ctx, agent, c.ID, func(credential.Credential) error { return nil }, c.VaultPath, now()); err != nil {
		t.Fatal(err)
	}
	write := func(context.Context) (int64, error) { t.Fatal("wrote while a rotation is pending"); return 0, nil }
	if moved, err := f.s.MoveVaultVersion(ctx, c.ID, 1, 1, write); err != nil || moved {
		t.Fatalf("moved=%v %v", moved, err)
	}
	if list, err := f.s.VaultCredentials(ctx, uuid.Nil, 10); err != nil || len(list) != 0 {
		t.Fatalf("a credential with a pending rotation is listed: %+v %v", list, err)
	}
	// A pending credential is neither moved nor listed.
	p := f.pending(agent)
	if moved, err := f.s.MoveVaultVersion(ctx, p.ID, 1, 1, write); err != nil || moved {
		t.Fatalf("pending credential: moved=%v %v", moved, err)
	}
}

func vaultCredentialsPages(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	a, b := f.inVault(agent), f.inVault(agent)
	f.hashed(agent, shaHash) // not in Vault: not listed
	if _, next, err := f.s.BeginRotation(ctx, agent, b.ID, func(credential.Credential) error { return nil }, b.VaultPath, now()); err != nil {
		t.Fatal(err)
	} else if _, err := f.s.CompleteRotation(ctx, b.ID, next, 5, time.Minute, now()); err != nil {
		t.Fatal(err)
	}
	first, err := f.s.VaultCredentials(ctx, uuid.Nil, 1)
	if err != nil || len(first) != 1 || first[0].ID != a.ID || first[0].AgentID != agent || first[0].Versions[1] != 1 {
		t.Fatalf("first page: %+v %v", first, err)
	}
	second, err := f.s.VaultCredentials(ctx, first[0].ID, 10)
	if err != nil || len(second) != 1 || second[0].ID != b.ID || len(second[0].Versions) != 2 ||
		second[0].Versions[1] != 1 || second[0].Versions[2] != 5 {
		t.Fatalf("second page: %+v %v", second, err)
	}
}
