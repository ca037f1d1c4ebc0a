package vaultstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/token/internal/keys"
	"github.com/sentryagent/agentidp/services/token/internal/keys/storetest"
	"github.com/sentryagent/agentidp/services/token/internal/keys/vaultstore"
)

// The Vault store passes the keys.Store conformance suite against a real
// Vault server: each subtest gets a KV v2 mount of its own; replicas are
// stores configured alike.
func TestConformance(t *testing.T) {
	v := testkit.NewVault(t)
	root, err := api.NewClient(&api.Config{Address: v.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	root.SetToken(v.RootToken)
	var mounts atomic.Int64
	storetest.Run(t, func(t *testing.T) (keys.Store, func() keys.Store) {
		mount := fmt.Sprintf("keys%d", mounts.Add(1))
		mountKV2(t, root, mount)
		open := func() keys.Store {
			s, err := vaultstore.New(vaultstore.Config{Addr: v.Addr(), Token: v.RootToken, Mount: mount})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		return open(), open
	})
}

// mountKV2 mounts a KV v2 secrets engine at path and waits until it
// answers (KV v2 sets up its storage in the background after a mount).
func mountKV2(t *testing.T, root *api.Client, path string) {
	t.Helper()
	ctx := context.Background()
	if err := root.Sys().MountWithContext(ctx, path, &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatalf("mount kv v2 at %s: %v", path, err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, err := root.Logical().ReadWithContext(ctx, path+"/config")
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kv v2 at %s not ready: %v", path, err)
		}
	}
}
