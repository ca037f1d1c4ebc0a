package migrations_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/sentryagent/agentidp/libs/feed"
	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/credentials/migrations"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// The feed cursor table is the one libs/feed's PostgresCursor expects.
func TestCursorTableMatchesFeed(t *testing.T) {
	b, err := fs.ReadFile(migrations.FS, "003_agents_projection.sql")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), feed.CursorTableSQL) {
		t.Fatal("003_agents_projection.sql does not contain feed.CursorTableSQL verbatim")
	}
	if _, err := fs.ReadFile(migrations.FS, "005_add_vault_path.sql"); err != nil {
		t.Fatal("005_add_vault_path.sql must exist under that name (ARCHITECTURE.md)")
	}
}

// Every migration applies in order, rolls back, and applies again.
func TestMigrationsUpDownUp(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testkit.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(files) {
		t.Fatalf("applied %d migrations, want %d", len(res), len(files))
	}
}
