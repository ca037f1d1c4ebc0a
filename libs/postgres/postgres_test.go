package postgres_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

var migrations = fstest.MapFS{
	"001_things.sql": {Data: []byte("-- +goose Up\nCREATE TABLE things (id int PRIMARY KEY);\n-- +goose Down\nDROP TABLE things;\n")},
	"002_names.sql":  {Data: []byte("-- +goose Up\nALTER TABLE things ADD COLUMN name text NOT NULL DEFAULT '';\n-- +goose Down\nALTER TABLE things DROP COLUMN name;\n")},
}

func TestMigrateAppliesInOrderOnceAndConcurrently(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	pool, err := postgres.Open(ctx, postgres.Config{URL: testkit.NewDatabase(t)}, metrics.NewStore(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	// Replicas starting together must not trip over each other.
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() { errs <- postgres.Migrate(ctx, pool, migrations) }()
	}
	for i := 0; i < 3; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, "INSERT INTO things (id, name) VALUES (1, 'a')"); err != nil {
		t.Fatalf("schema incomplete: %v", err)
	}
	var applied int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM goose_db_version WHERE version_id > 0").Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != 2 {
		t.Fatalf("%d migrations recorded, want 2", applied)
	}
	if n := testutil.CollectAndCount(reg, "agentidp_db_query_duration_seconds"); n == 0 {
		t.Fatal("no query latency observed")
	}
}

func TestOpenKeepsPasswordsOutOfErrors(t *testing.T) {
	_, err := postgres.Open(context.Background(), postgres.Config{URL: "postgres://u:s3cret@127.0.0.1:1/db?sslmode=disable&connect_timeout=1"}, nil)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v", err)
	}
	_, err = postgres.Open(context.Background(), postgres.Config{URL: "postgres://u:s3cret@%zz"}, nil)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v", err)
	}
}
