package vault_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/vault/api"

	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/libs/vaultclient"
	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
	"github.com/sentryagent/agentidp/services/credentials/internal/secret"
	"github.com/sentryagent/agentidp/services/credentials/internal/vault"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func rootClient(t *testing.T, v *testkit.Vault) *api.Client {
	t.Helper()
	conf := api.DefaultConfig()
	conf.Address = v.Addr()
	c, err := api.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(v.RootToken)
	return c
}

// tokenWith creates a token holding policy (named name) with the given ttl.
func tokenWith(t *testing.T, root *api.Client, name, policy string, ttl string) string {
	t.Helper()
	if err := root.Sys().PutPolicy(name, policy); err != nil {
		t.Fatal(err)
	}
	s, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{name}, TTL: ttl, Renewable: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	return s.Auth.ClientToken
}

func ptr[T any](v T) *T { return &v }

func TestConnectChecksVaultAndToken(t *testing.T) {
	v := testkit.NewVault(t)
	root := rootClient(t, v)
	ctx := context.Background()
	readOnly := tokenWith(t, root, "read-only", `path "secret/data/agentidp/agents/*" { capabilities = ["read"] }`, "1h")
	least := tokenWith(t, root, "agentidp-credentials", vault.Policy, "1h")
	if err := root.Sys().Mount("kv1", &api.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatal(err)
	}
	dev := vaultclient.Config{AllowRootToken: true}
	tests := []struct {
		name    string
		cfg     vault.Config
		wantErr []string
	}{
		{"unreachable", vault.Config{Addr: "http://" + testkit.Addr(testkit.MustFreePort(t)), Token: "x"}, []string{"VAULT_ADDR"}},
		{"bad token", vault.Config{Addr: v.Addr(), Token: "not-a-token"}, []string{"VAULT_TOKEN", "403"}},
		{"missing capabilities", vault.Config{Addr: v.Addr(), Token: readOnly},
			[]string{"VAULT_TOKEN lacks capabilities", "create", "update", "secret/data/agentidp/agents/*"}},
		{"not kv v2", vault.Config{Addr: v.Addr(), Token: v.RootToken, Mount: "kv1", Auth: dev}, []string{"VAULT_MOUNT", "KV version 2"}},
		{"no such mount", vault.Config{Addr: v.Addr(), Token: v.RootToken, Mount: "nope", Auth: dev}, []string{"VAULT_MOUNT", "nope"}},
		{"least-privilege policy", vault.Config{Addr: v.Addr(), Token: least}, nil},
		// Production refuses a root token; development may allow it.
		{"root token refused", vault.Config{Addr: v.Addr(), Token: v.RootToken}, []string{"root token", "VAULT_ALLOW_ROOT_TOKEN"}},
		{"root token allowed in development", vault.Config{Addr: v.Addr(), Token: v.RootToken, Auth: dev}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Timeout = 2 * time.Second
			_, err := vault.Connect(ctx, tt.cfg)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("connected, want an error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not mention %q", err, w)
				}
			}
			// ("x" and the dev server's root token "root" are words of messages.)
			if strings.Contains(err.Error(), tt.cfg.Token) && tt.cfg.Token != "x" && tt.cfg.Token != v.RootToken {
				t.Fatal("the error shows the token")
			}
		})
	}
}

// The documented policy is enough for everything the service does.
func TestLeastPrivilegePolicyCoversEveryOperation(t *testing.T) {
	v := testkit.NewVault(t)
	kv, err := vault.Connect(context.Background(), vault.Config{Addr: v.Addr(),
		Token: tokenWith(t, rootClient(t, v), "agentidp-credentials", vault.Policy, "1h"), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	agentID, id := uuid.New(), uuid.New()
	s1, _ := secret.New(id)
	s2, _ := secret.New(id)
	if n, err := kv.Write(ctx, agentID, id, secret.DigestOf(s1.Reveal()), 0); err != nil || n != 1 {
		t.Fatalf("write: %d %v", n, err)
	}
	if n, err := kv.Write(ctx, agentID, id, secret.DigestOf(s2.Reveal()), 1); err != nil || n != 2 {
		t.Fatalf("write v2: %d %v", n, err)
	}
	if _, err := kv.Write(ctx, agentID, id, secret.DigestOf(s2.Reveal()), 1); err == nil {
		t.Fatal("a stale check-and-set write succeeded")
	}
	d, legacy, err := kv.ReadDigest(ctx, agentID, id, 1)
	if err != nil || legacy || !d.Equal(secret.DigestOf(s1.Reveal())) {
		t.Fatalf("read v1: legacy=%v %v", legacy, err)
	}
	if err := kv.Destroy(ctx, agentID, id, []int64{2}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := kv.ReadDigest(ctx, agentID, id, 2); err != credential.ErrSecretGone {
		t.Fatalf("read destroyed version: %v, want ErrSecretGone", err)
	}
	if cur, live, err := kv.Versions(ctx, agentID, id); err != nil || cur != 2 || len(live) != 1 || live[0] != 1 {
		t.Fatalf("versions: %d %v %v", cur, live, err)
	}
	if err := kv.DeleteAll(ctx, agentID, id); err != nil {
		t.Fatal(err)
	}
	if cur, _, err := kv.Versions(ctx, agentID, id); err != nil || cur != 0 {
		t.Fatalf("after delete: %d %v", cur, err)
	}
	if err := kv.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// A renewable token with a short TTL stays valid while the service runs.
func TestRenewableTokenIsKeptAlive(t *testing.T) {
	v := testkit.NewVault(t)
	token := tokenWith(t, rootClient(t, v), "agentidp-credentials", vault.Policy, "3s")
	kv, err := vault.Connect(context.Background(), vault.Config{Addr: v.Addr(), Token: token, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = kv.KeepTokenAlive(ctx); close(done) }()
	time.Sleep(5 * time.Second)
	if err := kv.Ping(context.Background()); err != nil {
		t.Fatalf("token expired despite renewal: %v", err)
	}
	cancel()
	<-done
}

// The documentation shows the policy the tests use.
func TestPolicyIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../../../docs/credentials.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), vault.Policy) {
		t.Fatal("docs/credentials.md does not show vault.Policy verbatim")
	}
}

// A periodic token (what production uses: it expires 3 s after its last
// renewal, however long it lives) stays valid past several periods while
// KeepTokenAlive runs, and the service keeps writing and reading verifiers.
func TestPeriodicTokenOutlivesItsPeriod(t *testing.T) {
	v := testkit.NewVault(t)
	token, err := v.PolicyToken(context.Background(), "agentidp-credentials", vault.Policy, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := vault.Connect(context.Background(), vault.Config{Addr: v.Addr(), Token: token, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = kv.KeepTokenAlive(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	agentID, id := uuid.New(), uuid.New()
	for i := int64(0); i < 20; i++ { // 10 s: over three periods
		s, _ := secret.New(id)
		n, err := kv.Write(context.Background(), agentID, id, secret.DigestOf(s.Reveal()), i)
		if err != nil {
			t.Fatalf("write after %d ms: %v", i*500, err)
		}
		if d, _, err := kv.ReadDigest(context.Background(), agentID, id, n); err != nil || !d.Equal(secret.DigestOf(s.Reveal())) {
			t.Fatalf("read after %d ms: %v", i*500, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
