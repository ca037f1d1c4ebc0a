package checkpoint_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/auditlog"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
	"github.com/sentryagent/agentidp/services/audit/internal/audittest"
	"github.com/sentryagent/agentidp/services/audit/internal/checkpoint"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func appendN(t *testing.T, db *audittest.DB, from, n int) {
	t.Helper()
	now := time.Now()
	events := make([]auditlog.Event, n)
	for i := range events {
		events[i] = audittest.Event(from+i, "", now)
	}
	if _, err := db.Store.Append(context.Background(), events, now); err != nil {
		t.Fatal(err)
	}
}

type fixture struct {
	db     *audittest.DB
	signer *checkpoint.FileSigner
	sink   *checkpoint.FileSink
	cp     *checkpoint.Checkpointer
	src    checkpoint.Source
}

func newFixture(t *testing.T) fixture {
	dir := t.TempDir()
	signer, err := checkpoint.LoadFileSigner(filepath.Join(dir, "key.pem"), true)
	if err != nil {
		t.Fatal(err)
	}
	sink, err := checkpoint.NewFileSink(filepath.Join(dir, "sink"))
	if err != nil {
		t.Fatal(err)
	}
	db := audittest.New(t)
	return fixture{db: db, signer: signer, sink: sink,
		cp:  checkpoint.New(checkpoint.Config{Store: db.Store, Signer: signer, Sink: sink, Events: 10, Interval: time.Hour}),
		src: checkpoint.Source{Store: db.Store, Sink: sink, Signer: signer}}
}

func (f fixture) verify(t *testing.T) audit.Verification {
	t.Helper()
	ctx := context.Background()
	cps, err := f.src.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := f.src.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := audit.VerifyWith(ctx, f.db.Store, audit.Range{}, cps, keys)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The first checkpoint comes at once (it protects what is already there),
// then one every N events: not before, and each one covers the head.
func TestCheckpointsEveryNEvents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if c, err := f.cp.Once(ctx, false); err != nil || c != nil {
		t.Fatalf("an empty log: %v %v", c, err)
	}
	appendN(t, f.db, 0, 5)
	if c, err := f.cp.Once(ctx, false); err != nil || c == nil || c.Sequence != 5 {
		t.Fatalf("the first: %+v %v", c, err)
	}
	appendN(t, f.db, 5, 7)
	if c, err := f.cp.Once(ctx, false); err != nil || c != nil {
		t.Fatalf("7 events later, N=10: %v %v", c, err)
	}
	appendN(t, f.db, 12, 3)
	c, err := f.cp.Once(ctx, false)
	if err != nil || c == nil || c.Sequence != 15 {
		t.Fatalf("10 events later: %+v %v", c, err)
	}
	appendN(t, f.db, 15, 2)
	if c, err := f.cp.Once(ctx, true); err != nil || c == nil || c.Sequence != 17 {
		t.Fatalf("forced: %+v %v", c, err)
	}
	v := f.verify(t)
	if !v.OK || v.CheckpointsChecked != 6 || v.CheckpointedThrough != 17 { // two copies of each
		t.Fatalf("%+v %+v", v, v.Break)
	}
}

// The acceptance at the store level: the owner rewrites an event and
// recomputes every later hash and the head; the hash chain holds, the
// signed checkpoints do not — not even once the stored checkpoints are
// edited or deleted, and the checkpointer refuses to sign the forgery.
func TestAnOwnerRewriteIsCaughtByTheCheckpoints(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	appendN(t, f.db, 0, 30)
	if _, err := f.cp.Once(ctx, true); err != nil {
		t.Fatal(err)
	}
	appendN(t, f.db, 30, 10)
	if _, err := f.cp.Once(ctx, true); err != nil {
		t.Fatal(err)
	}

	audittest.Rewrite(t, f.db.Owner, 17, "mallory")
	if v, err := audit.Verify(ctx, f.db.Store, audit.Range{}); err != nil || !v.OK {
		t.Fatalf("the rewrite should fool the bare hash chain: %+v %v", v, err)
	}
	v := f.verify(t)
	if v.OK || v.Break.Kind != audit.BreakCheckpointMismatch || v.Break.Sequence != 30 {
		t.Fatalf("after the rewrite: %+v %+v", v, v.Break)
	}
	// Appends continue on the forged chain; the checkpointer will not sign it.
	appendN(t, f.db, 40, 20)
	if _, err := f.cp.Once(ctx, true); !errors.Is(err, checkpoint.ErrRefused) {
		t.Fatalf("signing over the forgery: %v", err)
	}
	// A fresh process (nothing in memory) refuses too.
	fresh := checkpoint.New(checkpoint.Config{Store: f.db.Store, Signer: f.signer, Sink: f.sink, Events: 10, Interval: time.Hour})
	if _, err := fresh.Once(ctx, true); !errors.Is(err, checkpoint.ErrRefused) {
		t.Fatalf("a fresh checkpointer signing over the forgery: %v", err)
	}

	// The stored checkpoints rewritten to the forged hashes: their
	// signatures no longer hold.
	if _, err := f.db.Owner.Exec(ctx, `ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only;
		UPDATE audit_checkpoints c SET hash = e.hash FROM audit_events e WHERE e.sequence = c.sequence;
		ALTER TABLE audit_checkpoints ENABLE TRIGGER audit_checkpoints_append_only`); err != nil {
		t.Fatal(err)
	}
	dbOnly := checkpoint.Source{Store: f.db.Store, Signer: f.signer}
	cps, _ := dbOnly.Checkpoints(ctx)
	keys, _ := dbOnly.Keys(ctx)
	if v, _ := audit.VerifyWith(ctx, f.db.Store, audit.Range{}, cps, keys); v.OK || v.Break.Kind != audit.BreakCheckpointInvalid {
		t.Fatalf("forged checkpoint rows: %+v %+v", v, v.Break)
	}
	// Deleted altogether: the file sink still holds them.
	if _, err := f.db.Owner.Exec(ctx, `ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only;
		DELETE FROM audit_checkpoints; ALTER TABLE audit_checkpoints ENABLE TRIGGER audit_checkpoints_append_only`); err != nil {
		t.Fatal(err)
	}
	if v := f.verify(t); v.OK || v.Break.Kind != audit.BreakCheckpointMismatch || v.Break.Sequence != 30 {
		t.Fatalf("checkpoint rows deleted, the sink remains: %+v %+v", v, v.Break)
	}
	// Put the event back as it was: everything holds again, and signing resumes.
	audittest.Rewrite(t, f.db.Owner, 17, auditlog.ActorSystem)
	if v := f.verify(t); !v.OK || v.CheckpointedThrough != 40 {
		t.Fatalf("restored: %+v %+v", v, v.Break)
	}
	if c, err := f.cp.Once(ctx, true); err != nil || c.Sequence != 60 {
		t.Fatalf("signing after the restore: %+v %v", c, err)
	}
}

// Cutting the tail and moving the head back passes the hash chain (the
// stored head agrees), not a checkpoint signed beyond it.
func TestATruncatedTailIsCaught(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	appendN(t, f.db, 0, 20)
	if _, err := f.cp.Once(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Owner.Exec(ctx, `ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
		DELETE FROM audit_events WHERE sequence > 15;
		UPDATE audit_chain_head SET sequence = 15, hash = (SELECT hash FROM audit_events WHERE sequence = 15);
		ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only`); err != nil {
		t.Fatal(err)
	}
	if v, _ := audit.Verify(ctx, f.db.Store, audit.Range{}); !v.OK {
		t.Fatalf("the bare chain should be fooled: %+v", v.Break)
	}
	if v := f.verify(t); v.OK || v.Break.Kind != audit.BreakCheckpointBeyondHead || v.Break.Sequence != 20 {
		t.Fatalf("%+v %+v", v, v.Break)
	}
}

// A checkpoint signed by another key (one the verifier was not given) does
// not count, and the signed payload is exactly the documented text.
func TestSignaturesNeedThePublishedKey(t *testing.T) {
	dir := t.TempDir()
	a, err := checkpoint.LoadFileSigner(filepath.Join(dir, "a.pem"), true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := checkpoint.LoadFileSigner(filepath.Join(dir, "b.pem"), true)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 21, 30, 0, 123456789, time.UTC)
	c, err := audit.SignCheckpoint(ctx, a, 7, make([]byte, 32), at)
	if err != nil {
		t.Fatal(err)
	}
	want := "agentidp-audit-checkpoint/v1\nsequence=7\nhash=" +
		"0000000000000000000000000000000000000000000000000000000000000000\ntime=2026-12-06T21:30:00.123456Z\n"
	if string(c.Payload()) != want {
		t.Fatalf("payload %q", c.Payload())
	}
	keysA, _ := a.PublicKeys(ctx)
	keysB, _ := b.PublicKeys(ctx)
	if err := keysA.VerifyCheckpoint(c); err != nil {
		t.Fatal(err)
	}
	if err := keysB.VerifyCheckpoint(c); !errors.Is(err, audit.ErrBadSignature) {
		t.Fatalf("another key: %v", err)
	}
	c.Sequence = 8
	if err := keysA.VerifyCheckpoint(c); !errors.Is(err, audit.ErrBadSignature) {
		t.Fatalf("an edited checkpoint: %v", err)
	}
	// The key file is reused, not replaced, and is private.
	again, err := checkpoint.LoadFileSigner(filepath.Join(dir, "a.pem"), true)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := again.PublicKeys(ctx); len(k) != 1 || k[c.KeyID] == nil {
		t.Fatal("the key file was not reused")
	}
	if st, err := os.Stat(filepath.Join(dir, "a.pem")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (%v)", st.Mode(), err)
	}
	// The PEM an auditor keeps verifies the same.
	pemBytes, _ := checkpoint.PublicKeyPEM(keysA[c.KeyID])
	if err := os.WriteFile(filepath.Join(dir, "pub.pem"), pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	read, err := checkpoint.ReadPublicKeys(filepath.Join(dir, "pub.pem"))
	if err != nil || read[c.KeyID] == nil {
		t.Fatalf("read public keys: %v %v", read, err)
	}
}
