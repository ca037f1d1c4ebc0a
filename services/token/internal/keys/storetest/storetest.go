// Package storetest is the conformance suite every keys.Store must pass:
// the check-and-set behaviour keys.Manager relies on to let replicas rotate
// keys without overwriting each other, run against the real backing store
// (keys/filestore on a directory, keys/vaultstore on a Vault server).
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/services/token/internal/keys"
)

// Open returns a new, empty store for one subtest, and a function that
// opens another handle on the same storage, as another replica would.
type Open func(t *testing.T) (s keys.Store, replica func() keys.Store)

// Run runs the suite.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s keys.Store, replica func() keys.Store)
	}{
		{"EmptyIsVersionZero", emptyIsVersionZero},
		{"SaveThenLoad", saveThenLoad},
		{"EmptyDocRoundTrips", emptyDocRoundTrips},
		{"StaleSaveConflictsAndWritesNothing", staleSaveConflicts},
		{"FirstSaveNeedsVersionZero", firstSaveNeedsVersionZero},
		{"VersionsNeverRepeat", versionsNeverRepeat},
		{"ConcurrentSavesOneWins", concurrentSavesOneWins},
		{"ReplicasBootstrappingAgree", replicasBootstrappingAgree},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, replica := open(t)
			tt.fn(t, s, replica)
		})
	}
}

var ctx = context.Background()

// doc returns a document of n keys, one per algorithm in turn, with a
// cache key tagged by label.
func doc(t *testing.T, label string, n int) keys.Doc {
	t.Helper()
	d := keys.Doc{CacheKey: bytes.Repeat([]byte(label[:1]), 32)}
	start := time.Now().UTC().Add(-time.Hour)
	for i := range n {
		alg := keys.ES256
		if i%2 == 1 {
			alg = keys.EdDSA
		}
		k, err := keys.Generate(alg, start.Add(time.Duration(i)*time.Hour), start)
		if err != nil {
			t.Fatal(err)
		}
		d.Keys = append(d.Keys, k)
	}
	return d
}

// sameDoc reports how got differs from want ("" if it does not): every
// field of every key, in order, instants compared as instants.
func sameDoc(got, want keys.Doc) string {
	if !bytes.Equal(got.CacheKey, want.CacheKey) {
		return "cache key differs"
	}
	if len(got.Keys) != len(want.Keys) {
		return fmt.Sprintf("%d keys, want %d", len(got.Keys), len(want.Keys))
	}
	for i, g := range got.Keys {
		w := want.Keys[i]
		if g.KID != w.KID || g.Alg != w.Alg || !g.ActiveFrom.Equal(w.ActiveFrom) || !g.CreatedAt.Equal(w.CreatedAt) ||
			!bytes.Equal(g.PrivateKey, w.PrivateKey) {
			return fmt.Sprintf("key %d: %s/%s from %v, want %s/%s from %v", i, g.KID, g.Alg, g.ActiveFrom, w.KID, w.Alg, w.ActiveFrom)
		}
	}
	return ""
}

func load(t *testing.T, s keys.Store) (keys.Doc, int64) {
	t.Helper()
	d, v, err := s.Load(ctx)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return d, v
}

// save stores d at version v and returns the version it is now at.
func save(t *testing.T, s keys.Store, d keys.Doc, v int64) int64 {
	t.Helper()
	if err := s.Save(ctx, d, v); err != nil {
		t.Fatalf("save at version %d: %v", v, err)
	}
	_, now := load(t, s)
	return now
}

func emptyIsVersionZero(t *testing.T, s keys.Store, _ func() keys.Store) {
	d, v := load(t, s)
	if v != 0 || len(d.Keys) != 0 || len(d.CacheKey) != 0 {
		t.Fatalf("an empty store loads %d keys at version %d, want none at 0", len(d.Keys), v)
	}
}

func saveThenLoad(t *testing.T, s keys.Store, replica func() keys.Store) {
	want := doc(t, "a", 3)
	v := save(t, s, want, 0)
	if v == 0 {
		t.Fatal("version 0 after a save: the next save could not tell the store from an empty one")
	}
	for name, st := range map[string]keys.Store{"same handle": s, "another replica": replica()} {
		got, gv := load(t, st)
		if diff := sameDoc(got, want); diff != "" || gv != v {
			t.Fatalf("%s: version %d (want %d): %s", name, gv, v, diff)
		}
	}
}

// A store that holds no keys yet but was written (a Doc with only a cache
// key, or none) is not empty: its version is not 0.
func emptyDocRoundTrips(t *testing.T, s keys.Store, _ func() keys.Store) {
	v := save(t, s, keys.Doc{}, 0)
	if v == 0 {
		t.Fatal("an empty Doc saved at version 0 loads as version 0")
	}
	d, _ := load(t, s)
	if len(d.Keys) != 0 || len(d.CacheKey) != 0 {
		t.Fatalf("loaded %+v, want an empty Doc", d)
	}
	want := doc(t, "b", 1)
	save(t, s, want, v)
	got, _ := load(t, s)
	if diff := sameDoc(got, want); diff != "" {
		t.Fatal(diff)
	}
}

func staleSaveConflicts(t *testing.T, s keys.Store, _ func() keys.Store) {
	stored := doc(t, "s", 2)
	v1 := save(t, s, doc(t, "f", 1), 0)
	v2 := save(t, s, stored, v1)
	for _, tc := range []struct {
		name    string
		version int64
	}{
		{"nothing stored yet", 0},
		{"the previous version", v1},
		{"a version not reached", v2 + 1},
		{"a version far ahead", v2 + 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Save(ctx, doc(t, "x", 1), tc.version)
			if !errors.Is(err, keys.ErrConflict) {
				t.Fatalf("save at version %d while at %d: %v, want ErrConflict", tc.version, v2, err)
			}
			got, v := load(t, s)
			if diff := sameDoc(got, stored); diff != "" || v != v2 {
				t.Fatalf("a refused save changed the store: version %d (was %d): %s", v, v2, diff)
			}
		})
	}
}

func firstSaveNeedsVersionZero(t *testing.T, s keys.Store, _ func() keys.Store) {
	if err := s.Save(ctx, doc(t, "x", 1), 1); !errors.Is(err, keys.ErrConflict) {
		t.Fatalf("save at version 1 into an empty store: %v, want ErrConflict", err)
	}
	if d, v := load(t, s); v != 0 || len(d.Keys) != 0 {
		t.Fatalf("a refused save wrote version %d with %d keys", v, len(d.Keys))
	}
}

// A version is never reused: a replica holding a version from several
// saves ago must not match the store by coincidence (ABA).
func versionsNeverRepeat(t *testing.T, s keys.Store, _ func() keys.Store) {
	seen := map[int64]bool{0: true}
	v := int64(0)
	for i := range 5 {
		next := save(t, s, doc(t, "v", i%3), v)
		if seen[next] {
			t.Fatalf("save %d: version %d again", i, next)
		}
		seen[next], v = true, next
	}
	for old := range seen {
		if old == v {
			continue
		}
		if err := s.Save(ctx, keys.Doc{}, old); !errors.Is(err, keys.ErrConflict) {
			t.Fatalf("save at old version %d (now %d): %v, want ErrConflict", old, v, err)
		}
	}
}

// Replicas that loaded the same version and save at once: exactly one
// wins, and the store holds what it saved.
func concurrentSavesOneWins(t *testing.T, s keys.Store, replica func() keys.Store) {
	const n = 6
	v := int64(0)
	for round := range 2 { // the first write of the store, then an update
		docs := make([]keys.Doc, n)
		errs := make([]error, n)
		stores := make([]keys.Store, n)
		for i := range n {
			docs[i] = doc(t, string(rune('a'+i)), 1+round)
			stores[i] = replica()
		}
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = stores[i].Save(ctx, docs[i], v) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: replicas %d and %d both saved at version %d", round, winner, i, v)
			case err == nil:
				winner = i
			case !errors.Is(err, keys.ErrConflict):
				t.Fatalf("round %d: replica %d: %v, want nil or ErrConflict", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no replica saved", round)
		}
		got, next := load(t, s)
		if diff := sameDoc(got, docs[winner]); diff != "" {
			t.Fatalf("round %d: the store does not hold the winner's doc: %s", round, diff)
		}
		v = next
	}
}

// keys.Manager's promise, which rests on the store's check-and-set:
// replicas starting at once on an empty store create one key and all sign
// with it.
func replicasBootstrappingAgree(t *testing.T, _ keys.Store, replica func() keys.Store) {
	policy := keys.Policy{Alg: keys.ES256, Interval: time.Hour, Prepublish: 10 * time.Minute, Retention: 20 * time.Minute}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	mgrs := make([]*keys.Manager, 4)
	var wg sync.WaitGroup
	for i := range mgrs {
		mgrs[i] = keys.NewManager(keys.ManagerConfig{Store: replica(), Policy: policy, Logger: logger})
		wg.Go(func() {
			if err := mgrs[i].Sync(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i, m := range mgrs[1:] {
		if !bytes.Equal(m.Set().JWKS(), mgrs[0].Set().JWKS()) {
			t.Fatalf("replica %d publishes other keys than replica 0", i+1)
		}
	}
	if d, _ := load(t, replica()); len(d.Keys) != 1 {
		t.Fatalf("%d keys stored after the bootstrap, want 1", len(d.Keys))
	}
}
