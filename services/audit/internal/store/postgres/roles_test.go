package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	libpostgres "github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/audit/internal/audittest"
	pgstore "github.com/sentryagent/agentidp/services/audit/internal/store/postgres"
)

// The service logs in as a role that is not the owner and is a member of
// nothing but the writer role: whatever it resets its role to, it cannot
// edit the log, disable the trigger, or become the owner. (Before, the
// service logged in as the owner and `SET ROLE NONE` returned to it.)
func TestTheServiceLoginCannotLeaveItsRole(t *testing.T) {
	db := audittest.New(t)
	ctx := context.Background()
	appendN(t, db, 0, 3, "", time.Now())
	roleURL, err := pgstore.RoleURL(db.LoginURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{db.LoginURL, roleURL} {
		testkit.AssertRefused(t, url,
			`SET ROLE NONE; UPDATE audit_events SET actor = 'mallory' WHERE sequence = 2`,
			`RESET ROLE; UPDATE audit_events SET actor = 'mallory' WHERE sequence = 2`,
			`SET ROLE NONE; ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only`,
			`RESET ROLE; ALTER TABLE audit_events DISABLE TRIGGER ALL`,
			`SET ROLE NONE; ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only`,
			`SET ROLE NONE; DELETE FROM audit_checkpoints`,
			`SET ROLE postgres`,
			`SET SESSION AUTHORIZATION postgres`,
			`SET session_replication_role = replica`,
			`UPDATE audit_retention_policy SET min_days = 1`,
			`SET ROLE NONE; DROP TABLE audit_events_`+time.Now().UTC().Format("200601"),
		)
	}
	if v := verify(t, db); !v.OK {
		t.Fatalf("verify = %+v", v.Break)
	}
	// The start-up check: the confined login passes, the owner does not.
	login, err := pgxpool.New(ctx, db.LoginURL)
	if err != nil {
		t.Fatal(err)
	}
	defer login.Close()
	if err := libpostgres.CheckConfined(ctx, login, "audit_events"); err != nil {
		t.Fatalf("the service's login: %v", err)
	}
	if err := libpostgres.CheckConfined(ctx, db.Owner, "audit_events"); !errors.Is(err, libpostgres.ErrNotConfined) {
		t.Fatalf("the owner (a superuser here): %v", err)
	}
}

// Retention has a floor the writer cannot lower or get around: a cutoff
// younger than audit_retention_policy.min_days (90) on the database's own
// clock is refused by the function itself, whatever the caller says now is.
func TestRetentionHasAFloor(t *testing.T) {
	db := audittest.New(t)
	ctx := context.Background()
	appendN(t, db, 0, 3, "", time.Now())
	floor, err := db.Store.RetentionFloor(ctx)
	if err != nil || floor != 90 {
		t.Fatalf("floor %d (%v)", floor, err)
	}
	now := time.Now()
	for _, tc := range []struct {
		name        string
		cutoff, now time.Time
	}{
		{"everything", now, now},
		{"a day", now.AddDate(0, 0, -1), now},
		{"89 days", now.AddDate(0, 0, -89), now},
		{"a clock in the future", now.AddDate(1, 0, 0).AddDate(0, 0, -365), now.AddDate(1, 0, 0)},
	} {
		if _, err := db.Store.ApplyRetention(ctx, tc.cutoff, tc.now); err == nil || !strings.Contains(err.Error(), "minimum of 90 days") {
			t.Errorf("%s: %v, want the floor", tc.name, err)
		}
	}
	// Called directly by the writer, as the example did.
	login, err := pgx.Connect(ctx, db.LoginURL)
	if err != nil {
		t.Fatal(err)
	}
	defer login.Close(ctx)
	var pgErr *pgconn.PgError
	if _, err := login.Exec(ctx, `SELECT * FROM audit_apply_retention(now(), now())`); !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Fatalf("audit_apply_retention(now(), now()) by the writer: %v", err)
	}
	// A now_ts in the future is refused too (it would date the chain ahead).
	if _, err := login.Exec(ctx, `SELECT * FROM audit_apply_retention(now() - interval '400 days', now() + interval '1 day')`); err == nil {
		t.Fatal("a now_ts a day ahead was accepted")
	}
	// At the floor, retention runs (nothing old enough to drop here).
	if d, err := db.Store.ApplyRetention(ctx, now.AddDate(0, 0, -91), now); err != nil || len(d) != 0 {
		t.Fatalf("91 days: %v %v", d, err)
	}
	if v := verify(t, db); !v.OK || v.To != 3 {
		t.Fatalf("verify = %+v %+v", v, v.Break)
	}
}
