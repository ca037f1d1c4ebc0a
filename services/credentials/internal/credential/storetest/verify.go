package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
)

// What verification reads and writes: one read per check, legacy (bcrypt)
// candidates, the verifier upgrade, last use, and the legacy operator
// command's listing.
var verifyTests = []test{
	{"ForVerify", forVerify},
	{"LegacyForVerify", legacyForVerify},
	{"UpgradeVerifierIsCheckAndSet", upgradeVerifier},
	{"TouchLastUsedNeverGoesBack", touchLastUsed},
	{"LegacySecretsAndEndGrace", legacySecrets},
}

func forVerify(t *testing.T, f *fixture) {
	agent := uuid.Must(uuid.NewV7())
	c := f.hashed(agent, shaHash)
	rec, err := f.s.ForVerify(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Credential.ID != c.ID || rec.Current != (credential.Verifier{Version: 1, Hash: shaHash}) || rec.Previous != nil || rec.Agent != nil {
		t.Fatalf("before the projection knows the agent: %+v", rec)
	}
	f.apply(credential.Agent{ID: agent, Status: credential.AgentSuspended, Scopes: []string{"a", "b"}, Owner: "team-a"})
	f.rotate(c, shaHash2, time.Hour, now())
	rec, err = f.s.ForVerify(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Agent == nil || rec.Agent.Status != credential.AgentSuspended || !slices.Equal(rec.Agent.Scopes, []string{"a", "b"}) || rec.Agent.Owner != "team-a" {
		t.Fatalf("agent %+v", rec.Agent)
	}
	if rec.Current != (credential.Verifier{Version: 2, Hash: shaHash2}) || rec.Previous == nil || *rec.Previous != (credential.Verifier{Version: 1, Hash: shaHash}) {
		t.Fatalf("verifiers %+v %+v", rec.Current, rec.Previous)
	}
	// A revoked credential is read as such: the service says no.
	if _, _, err := f.s.Revoke(ctx, agent, c.ID, now()); err != nil {
		t.Fatal(err)
	}
	if rec, err := f.s.ForVerify(ctx, c.ID); err != nil || rec.Credential.State != credential.StateRevoked {
		t.Fatalf("revoked: %+v %v", rec.Credential, err)
	}
	if _, err := f.s.ForVerify(ctx, uuid.Must(uuid.NewV7())); !errors.Is(err, credential.ErrNotFound) {
		t.Fatalf("unknown: %v, want ErrNotFound", err)
	}
}

// A phase-1 secret names no credential: every active credential of the
// agent that may accept it is a candidate, the cheap one (the upgraded
// verifier) first.
func legacyForVerify(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	bcryptCurrent := f.hashed(agent, bcryptHash)
	f.hashed(agent, shaHash2) // neither bcrypt nor the verifier asked for
	upgraded := f.hashed(agent, shaHash)
	rotated := f.hashed(agent, bcryptHash)
	f.rotate(rotated, shaHash2, time.Hour, now()) // bcrypt only in its previous version
	revoked := f.hashed(agent, bcryptHash)
	if _, _, err := f.s.Revoke(ctx, agent, revoked.ID, now()); err != nil {
		t.Fatal(err)
	}
	f.hashed(f.agent(credential.AgentActive, "team-a"), bcryptHash) // another agent's
	recs, err := f.s.LegacyForVerify(ctx, agent, shaHash)
	if err != nil {
		t.Fatal(err)
	}
	var got []uuid.UUID
	for _, r := range recs {
		got = append(got, r.Credential.ID)
	}
	if want := []uuid.UUID{upgraded.ID, bcryptCurrent.ID, rotated.ID}; !slices.Equal(got, want) {
		t.Fatalf("candidates %v, want %v (the exact verifier first, then id order)", got, want)
	}
	if r := recs[2]; r.Previous == nil || r.Previous.Hash != bcryptHash || r.Current.Hash != shaHash2 || r.Agent == nil {
		t.Fatalf("the rotated candidate: %+v", r)
	}
}

func upgradeVerifier(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	c := f.hashed(agent, bcryptHash)
	f.rotate(c, bcryptHash, time.Hour, now()) // versions 1 and 2 both bcrypt
	steps := []struct {
		name         string
		version      int64
		from, to     string
		wantCurrent  string
		wantPrevious string
	}{
		{"current version", 2, bcryptHash, shaHash, shaHash, bcryptHash},
		{"from a verifier it no longer has", 2, bcryptHash, shaHash2, shaHash, bcryptHash},
		{"previous version", 1, bcryptHash, shaHash2, shaHash, shaHash2},
		{"a version it does not have", 9, bcryptHash, shaHash, shaHash, shaHash2},
	}
	for _, st := range steps {
		if err := f.s.UpgradeVerifier(ctx, c.ID, st.version, st.from, st.to); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		rec, err := f.s.ForVerify(ctx, c.ID)
		if err != nil || rec.Current.Hash != st.wantCurrent || rec.Previous == nil || rec.Previous.Hash != st.wantPrevious {
			t.Fatalf("%s: current %q, previous %+v, %v", st.name, rec.Current.Hash, rec.Previous, err)
		}
	}
}

func touchLastUsed(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	a, b := f.hashed(agent, shaHash), f.hashed(agent, shaHash)
	t0 := now()
	steps := []struct {
		name         string
		ids          []uuid.UUID
		at           []time.Time
		wantA, wantB *time.Time
	}{
		{"first uses", []uuid.UUID{a.ID, b.ID}, []time.Time{t0, t0.Add(time.Second)}, &t0, ptr(t0.Add(time.Second))},
		{"an older use", []uuid.UUID{a.ID}, []time.Time{t0.Add(-time.Hour)}, &t0, ptr(t0.Add(time.Second))},
		{"a newer use", []uuid.UUID{a.ID}, []time.Time{t0.Add(time.Minute)}, ptr(t0.Add(time.Minute)), ptr(t0.Add(time.Second))},
		{"with an unknown id", []uuid.UUID{uuid.Must(uuid.NewV7()), b.ID}, []time.Time{t0, t0.Add(time.Hour)}, ptr(t0.Add(time.Minute)), ptr(t0.Add(time.Hour))},
		{"nothing", nil, nil, ptr(t0.Add(time.Minute)), ptr(t0.Add(time.Hour))},
	}
	for _, st := range steps {
		if err := f.s.TouchLastUsed(ctx, st.ids, st.at); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := f.get(a).LastUsedAt; !sameTime(got, st.wantA) {
			t.Fatalf("%s: a last used %v, want %v", st.name, got, st.wantA)
		}
		if got := f.get(b).LastUsedAt; !sameTime(got, st.wantB) {
			t.Fatalf("%s: b last used %v, want %v", st.name, got, st.wantB)
		}
	}
}

// The operator's listing of secrets still verified with bcrypt, and the
// end of a grace period it may order.
func legacySecrets(t *testing.T, f *fixture) {
	agent := f.agent(credential.AgentActive, "team-a")
	t0 := now()
	current := f.hashed(agent, bcryptHash)
	inGrace := f.hashed(agent, bcryptHash)
	f.rotate(inGrace, shaHash, time.Hour, t0)
	graceOver := f.hashed(agent, bcryptHash)
	f.rotate(graceOver, shaHash, time.Minute, t0.Add(-time.Hour))
	revoked := f.hashed(agent, bcryptHash)
	if _, _, err := f.s.Revoke(ctx, agent, revoked.ID, t0); err != nil {
		t.Fatal(err)
	}
	f.hashed(agent, shaHash)
	list, err := f.s.LegacySecrets(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("legacy secrets %+v, want the current one and the one in its grace period", list)
	}
	byID := map[uuid.UUID]credential.LegacySecret{}
	for _, l := range list {
		byID[l.CredentialID] = l
	}
	if l, ok := byID[current.ID]; !ok || !l.Current || l.Version != 1 || l.GraceEnds != nil || l.AgentID != agent {
		t.Fatalf("the current legacy secret: %+v", l)
	}
	if l, ok := byID[inGrace.ID]; !ok || l.Current || l.Version != 1 || !sameTime(l.GraceEnds, ptr(t0.Add(time.Hour))) {
		t.Fatalf("the legacy secret in its grace period: %+v", l)
	}
	before := len(f.events())
	if changed, err := f.s.EndGrace(ctx, agent, inGrace.ID, t0); err != nil || !changed {
		t.Fatalf("end grace: %v %v", changed, err)
	}
	if changed, err := f.s.EndGrace(ctx, agent, inGrace.ID, t0); err != nil || changed {
		t.Fatalf("end grace again: %v %v, want no change", changed, err)
	}
	if changed, err := f.s.EndGrace(ctx, uuid.Must(uuid.NewV7()), inGrace.ID, t0); err != nil || changed {
		t.Fatalf("end grace through another agent: %v %v, want no change", changed, err)
	}
	evs := f.events()[before:]
	if len(evs) != 1 || evs[0].Type != credential.EventGraceEnded || evs[0].CredentialID != inGrace.ID || !evs[0].OccurredAt.Equal(t0) {
		t.Fatalf("events after ending a grace period: %+v", evs)
	}
	if got := f.get(inGrace); !sameTime(got.PreviousSecretExpiresAt, &t0) {
		t.Fatalf("grace ends at %v, want %v", got.PreviousSecretExpiresAt, t0)
	}
	list, _ = f.s.LegacySecrets(ctx, t0)
	if len(list) != 1 || list[0].CredentialID != current.ID {
		t.Fatalf("legacy secrets after ending the grace: %+v", list)
	}
	// Nothing is owed to the sweeper any more.
	if n, err := f.s.EndGracePeriods(ctx, t0.Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("sweeper: %d %v, want only graceOver's", n, err)
	}
}
