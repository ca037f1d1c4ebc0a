package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/credentials/migrations"
)

// TestLegacySecretsCommand runs the operator command against a phase-1
// database brought up to date: list shows the bcrypt rows, retire needs
// to be told what, -dry-run changes nothing, and retiring revokes.
func TestLegacySecretsCommand(t *testing.T) {
	testkit.SkipIfShort(t)
	ctx := context.Background()
	url := testkit.NewDatabase(t)
	pool, err := postgres.Open(ctx, postgres.Config{URL: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 3); err != nil { // the phase-1 schema
		t.Fatal(err)
	}
	agent := uuid.NewString()
	ids := []string{uuid.NewString(), uuid.NewString()}
	for _, id := range ids {
		hash, _ := bcrypt.GenerateFromPassword([]byte("phase1-"+id), bcrypt.MinCost)
		if _, err := pool.Exec(ctx, `INSERT INTO credentials (credential_id, agent_id, secret_hash, status, created_at)
			VALUES ($1, $2, $3, 'active', now())`, id, agent, string(hash)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	if err := postgres.Migrate(ctx, pool, migrations.FS); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DATABASE_URL", url)
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := legacySecrets(ctx, args, &out)
		return out.String(), err
	}

	out, err := run("list")
	if err != nil || !strings.Contains(out, ids[0]) || !strings.Contains(out, ids[1]) || !strings.Contains(out, "2 legacy (bcrypt) secret(s)") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	for _, args := range [][]string{{}, {"purge"}, {"retire"}, {"retire", "-all", "-credential", ids[0]}, {"retire", "-credential", "nope"}} {
		if _, err := run(args...); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("%v: %v, want the usage", args, err)
		}
	}
	if out, err := run("retire", "-credential", ids[0], "-dry-run"); err != nil || !strings.Contains(out, "would revoke credential "+ids[0]) {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if out, _ := run("list"); !strings.Contains(out, "2 legacy") {
		t.Fatalf("the dry run changed something:\n%s", out)
	}
	if out, err := run("retire", "-credential", ids[0]); err != nil || !strings.Contains(out, "1 legacy secret(s) retired") {
		t.Fatalf("retire one: %v\n%s", err, out)
	}
	if out, _ := run("list"); strings.Contains(out, ids[0]) || !strings.Contains(out, "1 legacy") {
		t.Fatalf("after retiring one:\n%s", out)
	}
	if out, err := run("retire", "-all"); err != nil || !strings.Contains(out, "1 legacy secret(s) retired") {
		t.Fatalf("retire all: %v\n%s", err, out)
	}
	var revoked, events int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM credentials WHERE status = 'revoked'`).Scan(&revoked); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM credential_events WHERE type = 'revoked' AND actor = 'system'`).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if revoked != 2 || events != 2 {
		t.Fatalf("%d revoked, %d revocation events", revoked, events)
	}
}
