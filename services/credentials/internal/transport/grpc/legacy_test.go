package grpc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/requestinfo"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
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

// TestLegacyVerifierUpgrade: the first successful verification of a
// phase-1 secret replaces its bcrypt verifier with a sha256 one (the
// secret is known at that moment), after which it verifies without
// bcrypt; what is left is listed and retired through the change feed.
func TestLegacyVerifierUpgrade(t *testing.T) {
	t.Parallel()
	probe := newEnv(t, options{})
	agentID := probe.newAgent("agents:read")
	used := legacyCredential{id: uuid.NewString(), agentID: agentID, secret: "phase1-used-" + uuid.NewString()}
	idle := legacyCredential{id: uuid.NewString(), agentID: agentID, secret: "phase1-idle-" + uuid.NewString()}
	rotated := legacyCredential{id: uuid.NewString(), agentID: agentID, secret: "phase1-rotated-" + uuid.NewString()}
	e := newEnv(t, options{migrate: migrateWithLegacyRows(used, idle, rotated)})
	ctx := context.Background()
	verifier := func(id string) string {
		t.Helper()
		var h string
		if err := e.pool.QueryRow(ctx, `SELECT s.secret_hash FROM credential_secrets s JOIN credentials c
			ON c.credential_id = s.credential_id AND s.version = c.secret_version WHERE c.credential_id = $1`, id).Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	upgraded := func() float64 {
		v, _, err := metrics.Value(e.reg, "agentidp_credentials_legacy_verifiers_upgraded_total")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	e.wantInvalid(agentID, used.secret+"x") // a wrong secret upgrades nothing
	if got := e.wantValid(agentID, used.secret).GetCredentialId(); got != used.id {
		t.Fatalf("verified as %s", got)
	}
	if h := verifier(used.id); !strings.HasPrefix(h, "sha256$") || upgraded() != 1 {
		t.Fatalf("after a successful verification the verifier is %.7s…, %v upgrades", h, upgraded())
	}
	if h := verifier(idle.id); !strings.HasPrefix(h, "$2") {
		t.Fatalf("an unused legacy verifier changed: %.7s…", h)
	}
	for i := 0; i < 3; i++ { // sha256 now: no more upgrades, same answer
		if got := e.wantValid(agentID, used.secret).GetCredentialId(); got != used.id {
			t.Fatalf("verified as %s", got)
		}
	}
	e.wantInvalid(agentID, used.secret+"x")
	e.wantInvalid(e.newAgent(), used.secret)
	if upgraded() != 1 {
		t.Fatalf("%v upgrades", upgraded())
	}

	// What is left: idle (current) and, once rotated with a grace period,
	// rotated's previous secret.
	newer := e.rotate(agentID, rotated.id, 3600)
	list, err := e.store.LegacySecrets(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, l := range list {
		got[l.CredentialID.String()] = l.Current
		if !l.Current && (l.GraceEnds == nil || l.GraceEnds.Before(time.Now().Add(59*time.Minute))) {
			t.Fatalf("previous version without its grace end: %+v", l)
		}
	}
	if len(got) != 2 || got[idle.id] != true || got[rotated.id] != false {
		t.Fatalf("legacy secrets %v, want idle (current) and rotated (previous)", got)
	}
	before, err := e.store.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	retireCtx := requestinfo.With(ctx, requestinfo.Info{Actor: requestinfo.System, RequestID: "legacy-test"})
	for _, l := range list {
		changed, err := credential.RetireLegacy(retireCtx, e.store, l, time.Now().UTC().Truncate(time.Microsecond))
		if err != nil || !changed {
			t.Fatalf("retire %+v: %v %v", l, changed, err)
		}
	}
	e.wantInvalid(agentID, idle.secret)
	e.wantInvalid(agentID, rotated.secret)
	e.wantValid(agentID, newer.GetClientSecret())
	e.wantValid(agentID, used.secret) // upgraded: not legacy any more
	if list, _ := e.store.LegacySecrets(ctx, time.Now()); len(list) != 0 {
		t.Fatalf("left after retiring: %+v", list)
	}
	events, err := e.store.EventsAfter(ctx, before, 10)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, ev := range events {
		types[ev.CredentialID.String()] = string(ev.Type)
		if ev.Actor != requestinfo.System || ev.RequestID != "legacy-test" {
			t.Fatalf("event %+v does not say who retired it", ev)
		}
	}
	if types[idle.id] != "revoked" || types[rotated.id] != "grace_ended" || len(events) != 2 {
		t.Fatalf("events %v", types)
	}
}
