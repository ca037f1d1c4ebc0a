// Package audittest sets up the audit log on a real PostgreSQL for tests:
// a fresh database, migrated by its owner, and a store whose pool logs in
// as a confined role and runs as the service's restricted role, as in
// production.
package audittest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sentryagent/agentidp/libs/auditlog"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/testkit"
	pgstore "github.com/sentryagent/agentidp/services/audit/internal/store/postgres"
	"github.com/sentryagent/agentidp/services/audit/migrations"
)

// DB is a migrated audit database.
type DB struct {
	// OwnerURL connects as the owner (a superuser in tests).
	OwnerURL string
	// LoginURL connects as the service's confined login (LoginRole).
	LoginURL string
	// Owner is a pool of the owner.
	Owner *pgxpool.Pool
	// Store runs as pgstore.Role.
	Store *pgstore.Store
}

// New creates and migrates a database and ensures partitions from now.
// Its pools close when the test ends.
func New(t testing.TB) *DB {
	t.Helper()
	db := Open(t)
	t.Cleanup(db.Close)
	return db
}

// Open is New for databases that outlive one test (benchmark data sets):
// the caller closes it.
func Open(t testing.TB) *DB {
	t.Helper()
	ctx := context.Background()
	url := testkit.NewDatabase(t)
	owner, err := postgres.Open(ctx, postgres.Config{URL: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.Migrate(ctx, owner, migrations.FS); err != nil {
		owner.Close()
		t.Fatal(err)
	}
	// The service's confined login, as in production (MIGRATE_DATABASE_URL
	// set): a member of the writer role, never of the owner.
	login := testkit.LoginRoleURL(t, url, LoginRole)
	if err := postgres.GrantRole(ctx, owner, pgstore.Role, LoginRole); err != nil {
		t.Fatal(err)
	}
	roleURL, err := pgstore.RoleURL(login)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.Open(ctx, postgres.Config{URL: roleURL}, nil)
	if err != nil {
		owner.Close()
		t.Fatal(err)
	}
	store := pgstore.New(pool, pgstore.DefaultPartitionsAhead)
	if _, err := store.EnsurePartitions(ctx, time.Now(), 2); err != nil {
		t.Fatal(err)
	}
	return &DB{OwnerURL: url, LoginURL: login, Owner: owner, Store: store}
}

// LoginRole is the tests' confined login for the audit service.
const LoginRole = "agentidp_audit_login"

// Close closes the pools.
func (db *DB) Close() {
	db.Store.Pool().Close()
	db.Owner.Close()
}

// Event returns a valid event number i about agent (a UUID string, may be
// empty) at time at.
func Event(i int, agent string, at time.Time) auditlog.Event {
	return auditlog.Event{
		ID: auditlog.DerivedID("test", int64(i), at), OccurredAt: at.UTC().Truncate(time.Microsecond),
		Actor: auditlog.ActorSystem, Action: auditlog.ActionTokenIssued, Target: fmt.Sprintf("token:%d", i),
		AgentID: agent, Outcome: auditlog.OutcomeSuccess, RequestID: fmt.Sprintf("req-%d", i),
		SourceAddress: "203.0.113.7", Owner: "team-test", Details: map[string]string{"scope": "agents:read", "n": fmt.Sprint(i)},
	}
}

// Rewrite is the insider's rewrite the signed checkpoints exist to catch:
// as the owner (or a superuser), with the append-only trigger disabled, it
// changes the actor of the event at seq, recomputes the hash of that event
// and of every later one with the database's own audit_event_hash, and
// moves the stored head, so the hash chain alone is consistent again. It
// holds the append lock, so appends wait and then chain onto the forgery.
func Rewrite(t testing.TB, owner *pgxpool.Pool, seq int64, actor string) {
	t.Helper()
	ctx := context.Background()
	tx, err := owner.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, q := range []string{
		`SELECT pg_advisory_xact_lock(418581342580)`,
		`ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := tx.Exec(ctx, RewriteSQL, seq, actor); err != nil {
		t.Fatalf("rewrite: %v", err)
	}
	if _, err := tx.Exec(ctx, `ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// RewriteSQL sets the actor of event $1 to $2 and recomputes the chain from
// it to the head (the trigger must be off). deploy/local/e2e holds a copy.
const RewriteSQL = `WITH RECURSIVE
	changed AS (SELECT $1::bigint AS seq, $2::text AS actor),
	chain AS (
		SELECT e.sequence, audit_event_hash(
				coalesce((SELECT hash FROM audit_events WHERE sequence = e.sequence - 1), '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea),
				e.sequence, e.event_id, e.occurred_at, e.recorded_at, (SELECT actor FROM changed), e.action, e.target,
				e.agent_id, e.outcome, e.request_id, e.source_address, e.details, e.owner) AS hash,
			coalesce((SELECT hash FROM audit_events WHERE sequence = e.sequence - 1), '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea) AS prev
		FROM audit_events e WHERE e.sequence = (SELECT seq FROM changed)
		UNION ALL
		SELECT e.sequence, audit_event_hash(c.hash, e.sequence, e.event_id, e.occurred_at, e.recorded_at, e.actor,
				e.action, e.target, e.agent_id, e.outcome, e.request_id, e.source_address, e.details, e.owner), c.hash
		FROM chain c JOIN audit_events e ON e.sequence = c.sequence + 1
	),
	rewritten AS (
		UPDATE audit_events e SET prev_hash = c.prev, hash = c.hash,
			actor = CASE WHEN e.sequence = (SELECT seq FROM changed) THEN (SELECT actor FROM changed) ELSE e.actor END
		FROM chain c WHERE e.sequence = c.sequence
		RETURNING e.sequence, c.hash
	)
UPDATE audit_chain_head h SET hash = r.hash FROM rewritten r
WHERE r.sequence = (SELECT max(sequence) FROM rewritten) AND h.sequence = r.sequence`
