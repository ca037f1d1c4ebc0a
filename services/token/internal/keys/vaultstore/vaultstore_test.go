package vaultstore_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/token/internal/keys"
	"github.com/sentryagent/agentidp/services/token/internal/keys/vaultstore"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// TestVaultStore runs against a real Vault dev server: versions,
// check-and-set, and replicas racing to create the first keys agree.
func TestVaultStore(t *testing.T) {
	v := testkit.NewVault(t)
	ctx := context.Background()
	s := vaultstore.New(vaultstore.Config{Addr: v.Addr(), Token: v.RootToken})
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	doc, ver, err := s.Load(ctx)
	if err != nil || ver != 0 || len(doc.Keys) != 0 {
		t.Fatalf("empty: %+v %d %v", doc, ver, err)
	}

	// Four replicas start at once; exactly one creates the keys and all
	// end up with the same ones.
	policy := keys.Policy{Alg: keys.ES256, Interval: time.Hour, Prepublish: 10 * time.Minute, Retention: 20 * time.Minute}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	mgrs := make([]*keys.Manager, 4)
	var wg sync.WaitGroup
	for i := range mgrs {
		mgrs[i] = keys.NewManager(keys.ManagerConfig{Store: s, Policy: policy, Logger: logger})
		wg.Go(func() {
			if err := mgrs[i].Sync(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, m := range mgrs[1:] {
		if string(m.Set().JWKS()) != string(mgrs[0].Set().JWKS()) {
			t.Fatal("replicas disagree on the keys")
		}
	}
	doc, ver, err = s.Load(ctx)
	if err != nil || ver != 1 || len(doc.Keys) != 1 {
		t.Fatalf("after bootstrap: %d keys, version %d, %v", len(doc.Keys), ver, err)
	}
	if err := s.Save(ctx, doc, 0); !errors.Is(err, keys.ErrConflict) {
		t.Fatalf("stale check-and-set: %v, want ErrConflict", err)
	}
	if err := s.Save(ctx, doc, ver); err != nil {
		t.Fatal(err)
	}
	bad := vaultstore.New(vaultstore.Config{Addr: v.Addr(), Token: "nope"})
	if _, _, err := bad.Load(ctx); err == nil {
		t.Fatal("a wrong token read the keys")
	}
}
