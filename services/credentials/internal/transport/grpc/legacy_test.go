package grpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/credentials/migrations"
)

// legacyCredential is a phase-1 row: a bcrypt hash, and a secret that
// embeds no credential id.
type legacyCredential struct {
	id, agentID, secret string
	revoked             bool
}

// migrateWithLegacyRows builds the phase-1 schema (001–003), inserts
// phase-1 credentials, then applies the remaining migrations, as an
// operator upgrading a phase-1 database would.
func migrateWithLegacyRows(rows ...legacyCredential) func(testing.TB, *pgxpool.Pool) {
	return func(t testing.TB, pool *pgxpool.Pool) {
		ctx := context.Background()
		db := stdlib.OpenDBFromPool(pool)
		defer db.Close()
		p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.UpTo(ctx, 3); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			hash, err := bcrypt.GenerateFromPassword([]byte(r.secret), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			status, revokedAt := "active", (*time.Time)(nil)
			if r.revoked {
				now := time.Now()
				status, revokedAt = "revoked", &now
			}
			if _, err := pool.Exec(ctx, `INSERT INTO credentials (credential_id, agent_id, secret_hash, status, created_at, revoked_at)
				VALUES ($1, $2, $3, $4, now(), $5)`, r.id, r.agentID, string(hash), status, revokedAt); err != nil {
				t.Fatal(err)
			}
		}
		if err := postgres.Migrate(ctx, pool, migrations.FS); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLegacyBcryptCredentials(t *testing.T) {
	t.Parallel()
	v := testkit.NewVault(t)
	probe := newEnv(t, options{})
	agentID := probe.newAgent("agents:read")
	// Phase-1 ids were UUIDv4 and secrets had another format.
	live := legacyCredential{id: uuid.NewString(), agentID: agentID, secret: "agentidp_sk_" + "phase1" + uuid.NewString()}
	second := legacyCredential{id: uuid.NewString(), agentID: agentID, secret: "agentidp_sk_" + "phase1" + uuid.NewString()}
	dead := legacyCredential{id: uuid.NewString(), agentID: agentID, secret: "agentidp_sk_" + "phase1" + uuid.NewString(), revoked: true}
	e := newEnv(t, options{vault: v, migrate: migrateWithLegacyRows(live, second, dead)})
	ctx := context.Background()

	// Legacy secrets verify, through bcrypt.
	if got := e.wantValid(agentID, live.secret).GetCredentialId(); got != live.id {
		t.Fatalf("verified as %s, want %s", got, live.id)
	}
	if got := e.wantValid(agentID, second.secret).GetCredentialId(); got != second.id {
		t.Fatalf("verified as %s, want %s", got, second.id)
	}
	e.wantInvalid(agentID, dead.secret)
	e.wantInvalid(agentID, live.secret+"x")
	e.wantInvalid(e.newAgent(), live.secret)

	// Rotating a legacy credential while Vault is configured moves it to Vault.
	rotated := e.rotate(agentID, live.id, 2)
	c := rotated.GetCredential()
	if c.GetStorage() != "vault" || c.GetSecretVersion() != 2 || c.GetCredentialId() != live.id {
		t.Fatalf("after rotation: %v", c)
	}
	var vaultPath string
	if err := e.pool.QueryRow(ctx, `SELECT vault_path FROM credentials WHERE credential_id = $1`, live.id).Scan(&vaultPath); err != nil {
		t.Fatal(err)
	}
	if want := "secret/agentidp/agents/" + agentID + "/credentials/" + live.id; vaultPath != want {
		t.Fatalf("vault_path %q, want %q", vaultPath, want)
	}
	e.wantValid(agentID, rotated.GetClientSecret())
	e.wantValid(agentID, live.secret) // grace period
	time.Sleep(time.Until(c.GetPreviousSecretExpiresAt().AsTime()) + 50*time.Millisecond)
	e.wantInvalid(agentID, live.secret)
	e.wantValid(agentID, rotated.GetClientSecret())
	e.wantValid(agentID, second.secret) // untouched
	wantVaultMatchesRows(t, e, v)
}

// Without Vault, a rotated legacy credential gets a sha256 verifier; once
// Vault is configured, its next rotation moves it there.
func TestLegacyRotationWithoutVaultThenMoveToVault(t *testing.T) {
	t.Parallel()
	probe := newEnv(t, options{})
	agentID := probe.newAgent()
	live := legacyCredential{id: uuid.NewString(), agentID: agentID, secret: "phase1-" + uuid.NewString()}
	embedded := newEnv(t, options{migrate: migrateWithLegacyRows(live)})
	embedded.wantValid(agentID, live.secret)
	hashed := embedded.rotate(agentID, live.id, 0)
	if got := hashed.GetCredential().GetStorage(); got != "hash" {
		t.Fatalf("storage %q, want hash", got)
	}
	embedded.wantInvalid(agentID, live.secret)
	embedded.wantValid(agentID, hashed.GetClientSecret())

	v := testkit.NewVault(t)
	withVault := newEnv(t, options{vault: v, dbURL: embedded.dbURL})
	withVault.wantValid(agentID, hashed.GetClientSecret()) // hashed rows keep working
	moved := withVault.rotate(agentID, live.id, 0)
	if got := moved.GetCredential().GetStorage(); got != "vault" {
		t.Fatalf("storage %q, want vault", got)
	}
	withVault.wantValid(agentID, moved.GetClientSecret())
	withVault.wantInvalid(agentID, hashed.GetClientSecret())
	wantVaultMatchesRows(t, withVault, v)
}
