package vaultstore_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

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
	s, err := vaultstore.New(vaultstore.Config{Addr: v.Addr(), Token: v.RootToken})
	if err != nil {
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
	bad, err := vaultstore.New(vaultstore.Config{Addr: v.Addr(), Token: "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bad.Load(ctx); err == nil {
		t.Fatal("a wrong token read the keys")
	}
}

// TestVaultStoreLatestDeleted: when the latest version was deleted (an
// operator's `vault kv delete`), Load reads an empty doc of that version,
// so that the manager's check-and-set names it and recreates the keys.
func TestVaultStoreLatestDeleted(t *testing.T) {
	v := testkit.NewVault(t)
	ctx := context.Background()
	s, err := vaultstore.New(vaultstore.Config{Addr: v.Addr(), Token: v.RootToken})
	if err != nil {
		t.Fatal(err)
	}
	doc := keys.Doc{CacheKey: []byte("0123456789abcdef0123456789abcdef")}
	if err := s.Save(ctx, doc, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, doc, 1); err != nil {
		t.Fatal(err)
	}
	client, err := api.NewClient(&api.Config{Address: v.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	client.SetToken(v.RootToken)
	if err := client.KVv2("secret").Delete(ctx, vaultstore.Path); err != nil {
		t.Fatal(err)
	}
	got, ver, err := s.Load(ctx)
	if err != nil || ver != 2 || got.CacheKey != nil {
		t.Fatalf("after delete: %+v, version %d, %v", got, ver, err)
	}
	if err := s.Save(ctx, doc, 1); !errors.Is(err, keys.ErrConflict) {
		t.Fatalf("stale check-and-set: %v, want ErrConflict", err)
	}
	if err := s.Save(ctx, doc, ver); err != nil {
		t.Fatal(err)
	}
	if got, ver, err := s.Load(ctx); err != nil || ver != 3 || string(got.CacheKey) != string(doc.CacheKey) {
		t.Fatalf("rewritten: %+v, version %d, %v", got, ver, err)
	}
}

// TestVaultStoreTLS: the Vault client reads the standard VAULT_*
// settings, so a Vault behind a private CA is reached with VAULT_CACERT
// (and refused without it).
func TestVaultStoreTLS(t *testing.T) {
	v := testkit.NewTLSVault(t)
	ctx := context.Background()
	t.Setenv("VAULT_CACERT", "")
	s, err := vaultstore.New(vaultstore.Config{Addr: v.Addr(), Token: v.RootToken})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(ctx); err == nil {
		t.Fatal("reached a Vault whose CA nobody named")
	}
	t.Setenv("VAULT_CACERT", v.CACert)
	if s, err = vaultstore.New(vaultstore.Config{Addr: v.Addr(), Token: v.RootToken}); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, keys.Doc{CacheKey: []byte("k")}, 0); err != nil {
		t.Fatal(err)
	}
	if doc, ver, err := s.Load(ctx); err != nil || ver != 1 || string(doc.CacheKey) != "k" {
		t.Fatalf("over TLS: %+v, version %d, %v", doc, ver, err)
	}
	t.Setenv("VAULT_CACERT", v.CACert+".missing")
	if _, err := vaultstore.New(vaultstore.Config{Addr: v.Addr(), Token: v.RootToken}); err == nil {
		t.Fatal("a VAULT_CACERT that does not exist was ignored")
	}
}
