package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/credentials/internal/vault"
	"github.com/sentryagent/agentidp/services/credentials/migrations"
)

// TestVaultSecretsCommand runs `credentials vault-secrets migrate` with the
// service's settings and the service's policy token: a credential whose
// KV version holds its secret is migrated and the plaintext destroyed; a
// second run changes nothing; usage and setup errors say so.
func TestVaultSecretsCommand(t *testing.T) {
	testkit.SkipIfShort(t)
	ctx := context.Background()
	url := testkit.NewDatabase(t)
	pool, err := postgres.Open(ctx, postgres.Config{URL: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := postgres.Migrate(ctx, pool, migrations.FS); err != nil {
		t.Fatal(err)
	}
	v := testkit.NewVault(t)
	token, err := v.PolicyToken(ctx, "agentidp-credentials", vault.Policy, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// A credential as the service wrote them before verifiers.
	agent, cred := uuid.New(), uuid.New()
	conf := vaultapi.DefaultConfig()
	conf.Address = v.Addr()
	root, _ := vaultapi.NewClient(conf)
	root.SetToken(v.RootToken)
	const plain = "agentidp_sk_legacy-plaintext-secret-for-the-command-test"
	path := "agentidp/agents/" + agent.String() + "/credentials/" + cred.String()
	if _, err := root.KVv2("secret").Put(ctx, path, map[string]any{"client_secret": plain}); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO credentials (credential_id, agent_id, status, created_at, vault_path) VALUES ($1, $2, 'active', now(), $3)`,
		cred, agent, "secret/"+path); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO credential_secrets (credential_id, version, vault_version, created_at) VALUES ($1, 1, 1, now())`, cred); err != nil {
		t.Fatal(err)
	}

	t.Setenv("DATABASE_URL", url)
	t.Setenv("VAULT_ADDR", v.Addr())
	t.Setenv("VAULT_TOKEN", token)
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		_, err := vaultSecrets(ctx, args, &out)
		return out.String(), err
	}
	if out, err := run("migrate"); err != nil || !strings.Contains(out, "credentials: 1\nsecret versions migrated: 1\n") {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	if out, err := run("migrate"); err != nil || !strings.Contains(out, "secret versions migrated: 0\nalready verifiers: 1\n") {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	md, err := root.KVv2("secret").GetMetadata(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if !md.Versions["1"].Destroyed || md.CurrentVersion != 2 {
		t.Fatalf("the plaintext version is not destroyed: %+v", md.Versions)
	}
	var u usageError
	if _, err := run("nonsense"); !errors.As(err, &u) {
		t.Fatalf("bad usage: %v", err)
	}
	t.Setenv("VAULT_TOKEN", v.RootToken)
	if _, err := run("migrate"); err == nil || !strings.Contains(err.Error(), "root token") {
		t.Fatalf("root token: %v", err)
	}
}
