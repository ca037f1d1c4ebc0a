package testkit

import (
	"context"
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// CheckMigrations applies a service's migrations (NNN_description.sql with
// goose annotations) to a fresh database, rolls every one back, and applies
// them again: each Down undoes its Up completely, so a rollback in
// production leaves a schema the previous release can run on and the
// migration can be applied again.
func CheckMigrations(t *testing.T, fsys fs.FS) {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys)
	if err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for round, step := range []func() ([]*goose.MigrationResult, error){
		func() ([]*goose.MigrationResult, error) { return p.Up(ctx) },
		func() ([]*goose.MigrationResult, error) { return p.DownTo(ctx, 0) },
		func() ([]*goose.MigrationResult, error) { return p.Up(ctx) },
	} {
		res, err := step()
		if err != nil {
			t.Fatalf("round %d (up, down, up): %v", round+1, err)
		}
		if len(res) != len(files) {
			t.Fatalf("round %d (up, down, up) ran %d migrations, want %d", round+1, len(res), len(files))
		}
	}
}
