package postgres_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sentryagent/agentidp/libs/auditlog"
	libpostgres "github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
	"github.com/sentryagent/agentidp/services/audit/internal/audittest"
	"github.com/sentryagent/agentidp/services/audit/migrations"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func appendN(t *testing.T, db *audittest.DB, from, n int, agent string, at time.Time) []audit.Event {
	t.Helper()
	events := make([]auditlog.Event, n)
	for i := range events {
		events[i] = audittest.Event(from+i, agent, at.Add(time.Duration(from+i)*time.Millisecond))
	}
	stored, err := db.Store.Append(context.Background(), events, at)
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

func verify(t *testing.T, db *audittest.DB) audit.Verification {
	t.Helper()
	v, err := audit.Verify(context.Background(), db.Store, audit.Range{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAppendChainsAndDeduplicates(t *testing.T) {
	db := audittest.New(t)
	ctx := context.Background()
	now := time.Now()
	first := appendN(t, db, 0, 10, uuid.NewString(), now)
	if len(first) != 10 || first[0].Sequence != 1 || first[9].Sequence != 10 {
		t.Fatalf("sequences %d..%d (%d events)", first[0].Sequence, first[len(first)-1].Sequence, len(first))
	}
	// Redelivery of 5 old events with 5 new ones stores only the new ones.
	again := appendN(t, db, 5, 10, first[0].AgentID, now)
	if len(again) != 5 || again[0].Sequence != 11 || again[0].Target != "token:10" {
		t.Fatalf("redelivery stored %d events starting at %d (%s)", len(again), again[0].Sequence, again[0].Target)
	}
	got, err := db.Store.Get(ctx, first[3].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sequence != 4 || got.Details["n"] != "3" || got.AgentID != first[0].AgentID || !got.OccurredAt.Equal(first[3].OccurredAt) {
		t.Fatalf("get = %+v", got)
	}
	if v := verify(t, db); !v.OK || v.Checked != 15 {
		t.Fatalf("verify = %+v", v)
	}
	// The head's time never goes back: a slow clock still appends after it.
	later := appendN(t, db, 100, 1, "", now.Add(-time.Hour))
	if !later[0].RecordedAt.Equal(first[0].RecordedAt.Truncate(time.Microsecond)) {
		t.Fatalf("recordedAt went back: %v after %v", later[0].RecordedAt, first[0].RecordedAt)
	}
	if _, err := db.Store.Get(ctx, uuid.Must(uuid.NewV7())); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

// The service's role may add and read events, never change them; the
// trigger refuses changes even to the owner.
func TestLogIsAppendOnly(t *testing.T) {
	db := audittest.New(t)
	ctx := context.Background()
	appendN(t, db, 0, 3, "", time.Now())
	asRole := []struct{ name, sql string }{
		{"update", `UPDATE audit_events SET actor = 'mallory' WHERE sequence = 2`},
		{"delete", `DELETE FROM audit_events WHERE sequence = 2`},
		{"truncate", `TRUNCATE audit_events`},
		{"delete ids", `DELETE FROM audit_event_ids`},
		{"update partition", `UPDATE audit_events_` + time.Now().UTC().Format("200601") + ` SET actor = 'mallory'`},
		{"drop", `DROP TABLE audit_events`},
		{"leave the role", `RESET ROLE; UPDATE audit_events SET actor = 'mallory' WHERE sequence = 2`},
	}
	for _, tt := range asRole {
		t.Run("role "+tt.name, func(t *testing.T) {
			_, err := db.Store.Pool().Exec(ctx, tt.sql)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || (pgErr.Code != "42501" && pgErr.Code != "42P01") {
				t.Fatalf("%s as the service's role: %v, want permission denied", tt.name, err)
			}
		})
	}
	var role string
	if err := db.Store.Pool().QueryRow(ctx, `SELECT current_user`).Scan(&role); err != nil || role != "agentidp_audit_writer" {
		t.Fatalf("the store runs as %q (%v)", role, err)
	}
	for _, sql := range []string{
		`UPDATE audit_events SET actor = 'mallory' WHERE sequence = 2`,
		`DELETE FROM audit_events WHERE sequence = 2`,
		`TRUNCATE audit_events`,
	} {
		if _, err := db.Owner.Exec(ctx, sql); err == nil {
			t.Fatalf("the owner ran %q past the trigger", sql)
		}
	}
	if v := verify(t, db); !v.OK {
		t.Fatalf("verify = %+v", v)
	}
}

// A superuser can bypass the trigger; the chain shows where.
func TestVerifyFindsTampering(t *testing.T) {
	tests := []struct {
		name     string
		sql      string
		sequence int64
		kind     string
	}{
		{"edited actor", `UPDATE audit_events SET actor = 'mallory' WHERE sequence = 5`, 5, audit.BreakHashMismatch},
		{"edited details", `UPDATE audit_events SET details = '{"scope":"admin"}' WHERE sequence = 7`, 7, audit.BreakHashMismatch},
		{"edited and rehashed", `UPDATE audit_events SET occurred_at = occurred_at - interval '1 day',
			hash = audit_event_hash(prev_hash, sequence, event_id, occurred_at - interval '1 day', recorded_at, actor, action,
				target, agent_id, outcome, request_id, source_address, details, owner) WHERE sequence = 4`, 5, audit.BreakPrevHashMismatch},
		{"moved to another owner", `UPDATE audit_events SET owner = 'team-b' WHERE sequence = 3`, 3, audit.BreakHashMismatch},
		{"deleted row", `DELETE FROM audit_events WHERE sequence = 6`, 6, audit.BreakMissingEvents},
		{"deleted first row", `DELETE FROM audit_events WHERE sequence = 1`, 1, audit.BreakMissingEvents},
		{"deleted tail", `DELETE FROM audit_events WHERE sequence >= 9`, 9, audit.BreakMissingEvents},
		{"moved head", `UPDATE audit_chain_head SET hash = sha256('x')`, 10, audit.BreakHeadMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := audittest.New(t)
			ctx := context.Background()
			stored := appendN(t, db, 0, 10, uuid.NewString(), time.Now())
			if _, err := db.Owner.Exec(ctx, `SET session_replication_role = replica`); err != nil {
				t.Fatal(err)
			}
			conn, err := db.Owner.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Release()
			if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, tt.sql); err != nil {
				t.Fatal(err)
			}
			_, _ = conn.Exec(ctx, `RESET session_replication_role`)
			v := verify(t, db)
			if v.OK || v.Break == nil || v.Break.Sequence != tt.sequence || v.Break.Kind != tt.kind {
				t.Fatalf("verify = %+v, break %+v; want %s at %d", v, v.Break, tt.kind, tt.sequence)
			}
			if tt.kind == audit.BreakHashMismatch && v.Break.EventID != stored[tt.sequence-1].ID {
				t.Fatalf("break names event %s, want %s", v.Break.EventID, stored[tt.sequence-1].ID)
			}
			// A range before the edit still verifies.
			to := int64(3)
			if r, err := audit.Verify(ctx, db.Store, audit.Range{To: &to}); err != nil || (!r.OK && tt.sequence > 3) {
				t.Fatalf("verify 1..3 = %+v, %v", r, err)
			}
		})
	}
}

// The SQL implementation of the chain hash (used by retention) agrees with
// the Go one on every stored event.
func TestSQLHashMatchesGo(t *testing.T) {
	db := audittest.New(t)
	ctx := context.Background()
	events := []auditlog.Event{
		audittest.Event(1, uuid.NewString(), time.Now()),
		{ID: auditlog.NewID(), OccurredAt: time.Now().UTC().Truncate(time.Microsecond), Actor: "système ✓",
			Action: "policy.reloaded", Outcome: auditlog.OutcomeFailure,
			Details: map[string]string{"b": "2", "a": "1", "B": "ü", "a.b-c_d": ""}},
		{ID: auditlog.NewID(), OccurredAt: time.Now().UTC().Truncate(time.Microsecond), Actor: "system",
			Action: "agent.registered", Outcome: auditlog.OutcomeSuccess, Owner: "équipe-α"},
	}
	if _, err := db.Store.Append(ctx, events, time.Now()); err != nil {
		t.Fatal(err)
	}
	var mismatches int
	err := db.Owner.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE hash <> audit_event_hash(prev_hash, sequence,
		event_id, occurred_at, recorded_at, actor, action, target, agent_id, outcome, request_id, source_address, details, owner)`).Scan(&mismatches)
	if err != nil || mismatches != 0 {
		t.Fatalf("%d events hash differently in SQL (%v)", mismatches, err)
	}
}

func TestRetentionDropsWholeMonthsAndKeepsTheChain(t *testing.T) {
	db := audittest.New(t)
	ctx := context.Background()
	jan := time.Date(2024, 1, 10, 12, 0, 0, 0, time.UTC)
	if _, err := db.Store.EnsurePartitions(ctx, jan, 5); err != nil {
		t.Fatal(err)
	}
	appendN(t, db, 0, 20, uuid.NewString(), jan)                                     // 1..20 in January
	appendN(t, db, 100, 10, "", jan.AddDate(0, 1, 0))                                // 21..30 in February
	kept := appendN(t, db, 200, 10, "", time.Date(2024, 4, 2, 0, 0, 0, 0, time.UTC)) // 31..40 in April

	// 60 days before 2024-04-20 is 2024-02-20: January goes, February (not
	// yet wholly older) stays.
	now := time.Date(2024, 4, 20, 0, 0, 0, 0, time.UTC)
	dropped, err := db.Store.ApplyRetention(ctx, now.AddDate(0, 0, -60), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(dropped) != 1 || dropped[0].Partition != "audit_events_202401" || dropped[0].Events != 20 ||
		dropped[0].LastSequence != 20 || dropped[0].RetentionSequence != 41 {
		t.Fatalf("dropped %+v", dropped)
	}
	if v := verify(t, db); !v.OK || v.From != 21 || v.To != 41 {
		t.Fatalf("after retention: %+v %+v", v, v.Break)
	}
	retained, err := db.Store.List(ctx, audit.Filter{Action: auditlog.ActionAuditRetention}, nil, 10)
	if err != nil || len(retained) != 1 || retained[0].Details["lastSequence"] != "20" || retained[0].Details["partition"] != "audit_events_202401" {
		t.Fatalf("retention event %+v (%v)", retained, err)
	}
	if _, err := db.Store.Get(ctx, audittest.Event(3, "", jan).ID); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("a dropped event: %v", err)
	}
	// Later, February and (empty) March go: the first event kept (31)
	// chains to February's last through the second retention event.
	now = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	dropped, err = db.Store.ApplyRetention(ctx, now.AddDate(0, 0, -60), now)
	if err != nil || len(dropped) != 2 || dropped[0].Partition != "audit_events_202402" || dropped[1].Events != 0 {
		t.Fatalf("dropped %+v (%v)", dropped, err)
	}
	if v := verify(t, db); !v.OK || v.From != kept[0].Sequence || v.To != 43 {
		t.Fatalf("after the second retention: %+v %+v", v, v.Break)
	}
	// Deleting the first event kept is not retention: it shows.
	if _, err := db.Owner.Exec(ctx, `ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
		DELETE FROM audit_events WHERE sequence = 31;
		ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only`); err != nil {
		t.Fatal(err)
	}
	if v := verify(t, db); v.OK || v.Break.Kind != audit.BreakMissingEvents {
		t.Fatalf("after deleting the oldest event: %+v %+v", v, v.Break)
	}
}

// The cursor table is libs/postgres's (FeedCursor reads and writes it).
func TestMigrationCreatesTheCursorTableOfAgentevents(t *testing.T) {
	b, err := fs.ReadFile(migrations.FS, "001_audit_log.sql")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), libpostgres.FeedCursorTableSQL) {
		t.Fatal("001_audit_log.sql does not hold libpostgres.FeedCursorTableSQL verbatim")
	}
}
