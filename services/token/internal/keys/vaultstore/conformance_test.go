package vaultstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

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
	var mounts atomic.Int64
	storetest.Run(t, func(t *testing.T) (keys.Store, func() keys.Store) {
		mount := fmt.Sprintf("keys%d", mounts.Add(1))
		mountKV2(t, v, mount)
		open := func() keys.Store {
			return vaultstore.New(vaultstore.Config{Addr: v.Addr(), Token: v.RootToken, Mount: mount})
		}
		return open(), open
	})
}

// A latest version deleted in Vault (`vault kv delete`) holds no data but
// keeps its number: Load must return that number, or every check-and-set
// would fail until an operator intervened. The same after the metadata is
// gone too (`vault kv metadata delete`): the store is empty again.
func TestDeletedVersions(t *testing.T) {
	v := testkit.NewVault(t)
	ctx := context.Background()
	mountKV2(t, v, "deleted")
	s := vaultstore.New(vaultstore.Config{Addr: v.Addr(), Token: v.RootToken, Mount: "deleted"})
	k, err := keys.Generate(keys.ES256, time.Now(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	doc := keys.Doc{CacheKey: make([]byte, 32), Keys: []keys.StoredKey{k}}
	for _, tc := range []struct {
		name, path  string
		wantVersion int64
	}{
		{"latest version deleted", "deleted/data/" + vaultstore.Path, 1},
		{"metadata deleted", "deleted/metadata/" + vaultstore.Path, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Save(ctx, doc, 0); err != nil {
				t.Fatal(err)
			}
			if code := vaultCall(t, v, "DELETE", tc.path, nil); code != http.StatusNoContent {
				t.Fatalf("delete: status %d", code)
			}
			got, ver, err := s.Load(ctx)
			if err != nil || ver != tc.wantVersion || len(got.Keys) != 0 {
				t.Fatalf("load after delete: %d keys at version %d, %v; want none at %d", len(got.Keys), ver, err, tc.wantVersion)
			}
			if err := s.Save(ctx, doc, ver); err != nil {
				t.Fatalf("save at the version Load returned: %v", err)
			}
			// Leave the path empty for the next case.
			if code := vaultCall(t, v, "DELETE", "deleted/metadata/"+vaultstore.Path, nil); code != http.StatusNoContent {
				t.Fatalf("delete metadata: status %d", code)
			}
		})
	}
}

// mountKV2 mounts a KV v2 secrets engine at path and waits until it
// answers (KV v2 sets up its storage in the background after a mount).
func mountKV2(t *testing.T, v *testkit.Vault, path string) {
	t.Helper()
	if code := vaultCall(t, v, "POST", "sys/mounts/"+path, map[string]any{"type": "kv", "options": map[string]string{"version": "2"}}); code != http.StatusNoContent && code != http.StatusOK {
		t.Fatalf("mount kv v2 at %s: status %d", path, code)
	}
	deadline := time.Now().Add(30 * time.Second)
	for vaultCall(t, v, "GET", path+"/config", nil) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("kv v2 at %s not ready", path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// vaultCall calls Vault's HTTP API as root and returns the status code.
func vaultCall(t *testing.T, v *testkit.Vault, method, path string, body any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, v.Addr()+"/v1/"+path, r)
	req.Header.Set("X-Vault-Token", v.RootToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
