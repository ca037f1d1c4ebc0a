package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/testkit"
)

// TestUnavailable: errors of a server that crashed, is down or is starting
// again are unavailability; the caller's mistakes and deadlines are not.
// Against a real server, killed with SIGKILL.
func TestUnavailable(t *testing.T) {
	testkit.SkipIfShort(t)
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "agentidp-pg-unavailable-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	pg, err := testkit.StartPostgres(ctx, testkit.PostgresConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	pool, err := postgres.Open(ctx, postgres.Config{URL: pg.URL("postgres")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	var n int
	noRows := pool.QueryRow(ctx, "SELECT 1 WHERE false").Scan(&n)
	_, syntax := pool.Exec(ctx, "SELEC 1")
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, deadline := pool.Exec(short, "SELECT pg_sleep(1)")

	// A query in flight when the server dies, then queries while it is down.
	inFlight := make(chan error, 1)
	go func() {
		_, err := pool.Exec(ctx, "SELECT pg_sleep(5)")
		inFlight <- err
	}()
	time.Sleep(200 * time.Millisecond)
	pg.Kill()
	crashed := <-inFlight
	_, down := pool.Exec(ctx, "SELECT 1")
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	_, back := pool.Exec(ctx, "SELECT 1")

	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"no error", nil, false},
		{"no rows", noRows, false},
		{"syntax error", syntax, false},
		{"the caller's deadline", deadline, false},
		{"a plain error", errors.New("disk on fire"), false},
		{"query in flight when the server crashed", crashed, true},
		{"query while the server is down", fmt.Errorf("get agent: %w", down), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want && tt.err == nil {
				t.Fatal("expected an error, got none")
			}
			if got := postgres.Unavailable(tt.err); got != tt.want {
				t.Fatalf("Unavailable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	if back != nil && !postgres.Unavailable(back) {
		t.Fatalf("first query after the restart failed with a non-unavailable error: %v", back)
	}
	if !errors.Is(noRows, pgx.ErrNoRows) {
		t.Fatalf("no rows: %v", noRows)
	}
}
