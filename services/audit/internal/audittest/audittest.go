// Package audittest sets up the audit log on a real PostgreSQL for tests:
// a fresh database, migrated by its owner, and a store whose pool runs as
// the service's restricted role, as in production.
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
	roleURL, err := pgstore.RoleURL(url)
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
	return &DB{OwnerURL: url, Owner: owner, Store: store}
}

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
