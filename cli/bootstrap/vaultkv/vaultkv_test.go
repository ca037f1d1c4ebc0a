package vaultkv

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/sentryagent/agentidp/cli/bootstrap"
	"github.com/sentryagent/agentidp/libs/testkit"
)

// The entry against a real Vault (testkit: a dev server, KV v2 at secret/):
// what Prepare, Load, Save and RenewToken do with the documented policy and
// without it. The bootstrap with this output runs against the live mesh in
// deploy/local/bootstrape2e.
func TestKV(t *testing.T) {
	ctx := context.Background()
	v := testkit.NewVault(t)
	cfg := api.DefaultConfig()
	cfg.Address = v.Addr()
	root, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	root.SetToken(v.RootToken)
	const path = "agentidp/bootstrap/platform-admin"
	if err := root.Sys().PutPolicy("agentidp-bootstrap", `path "secret/data/`+path+`" { capabilities = ["create", "read", "update"] }`); err != nil {
		t.Fatal(err)
	}
	token := func(req *api.TokenCreateRequest) *api.Client {
		s, err := root.Auth().Token().Create(req)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := root.Clone()
		c.SetToken(s.Auth.ClientToken)
		return c
	}

	kv := New(token(&api.TokenCreateRequest{Policies: []string{"agentidp-bootstrap"}, Period: "1h"}), "secret", path)
	if got := kv.String(); got != "Vault KV entry secret/"+path {
		t.Errorf("String() = %q", got)
	}
	if c, v, err := kv.Load(ctx); c.Complete() || v != "" || err != nil {
		t.Fatalf("a missing entry: %+v, %q, %v; want nothing held", c, v, err)
	}
	if err := kv.Prepare(ctx); err != nil {
		t.Fatalf("Prepare with the policy: %v", err)
	}
	c := bootstrap.Credential{URL: "https://idp.example.com", ClientID: "agent-1", ClientSecret: "agentidp_sk_one", CredentialID: "cred-1"}
	if err := kv.Save(ctx, c, ""); err != nil {
		t.Fatal(err)
	}
	got, v1, err := kv.Load(ctx)
	if err != nil || v1 != "1" || got != c {
		t.Fatalf("Load = %+v, %q, %v; want %+v at version 1", got, v1, err, c)
	}
	// Check-and-set: a write against a version the entry has left is
	// ErrChanged, and leaves it alone.
	c2 := bootstrap.Credential{ClientID: "agent-1", ClientSecret: "agentidp_sk_two", CredentialID: "cred-2"}
	for _, stale := range []bootstrap.Version{"", "7"} {
		if err := kv.Save(ctx, c2, stale); !errors.Is(err, bootstrap.ErrChanged) {
			t.Errorf("Save against version %q: %v, want ErrChanged", stale, err)
		}
	}
	if err := kv.Save(ctx, c2, v1); err != nil {
		t.Fatal(err)
	}
	if got, v2, _ := kv.Load(ctx); got != c2 || v2 != "2" {
		t.Errorf("after a second Save: %+v at %q", got, v2)
	}
	meta, err := root.KVv2("secret").GetMetadata(ctx, path)
	if err != nil || meta.CurrentVersion != 2 {
		t.Errorf("versions: %v, %v; want each hand-over kept as a version", meta, err)
	}
	// An operator deletes the current version: the entry holds nothing,
	// and the next write names the deleted version's number.
	if err := root.KVv2("secret").Delete(ctx, path); err != nil {
		t.Fatal(err)
	}
	got, v3, err := kv.Load(ctx)
	if err != nil || got.Complete() || v3 != "2" {
		t.Fatalf("after a delete: %+v, %q, %v; want nothing held at version 2", got, v3, err)
	}
	if err := kv.Save(ctx, c, v3); err != nil {
		t.Fatalf("Save after a delete: %v", err)
	}
	if renewed, err := kv.RenewToken(ctx); err != nil || !renewed {
		t.Errorf("RenewToken of a periodic token: %v, %v", renewed, err)
	}

	// Without the policy: Prepare says what is missing; Load is refused.
	no := false
	other := New(token(&api.TokenCreateRequest{Policies: []string{"default"}, Renewable: &no}), "secret", path)
	if err := other.Prepare(ctx); err == nil || !strings.Contains(err.Error(), "needs create, read and update") {
		t.Errorf("Prepare without the policy: %v", err)
	}
	if _, _, err := other.Load(ctx); err == nil {
		t.Error("Load without the policy succeeded")
	}
	if renewed, err := other.RenewToken(ctx); err != nil || renewed {
		t.Errorf("RenewToken of a token that is not renewable: %v, %v", renewed, err)
	}
	// The root token may do anything.
	if err := New(root, "secret", path).Prepare(ctx); err != nil {
		t.Errorf("Prepare with the root token: %v", err)
	}
}
