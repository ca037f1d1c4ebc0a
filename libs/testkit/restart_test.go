package testkit_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/sentryagent/agentidp/libs/testkit"
)

// A durable PostgreSQL and a durable Redis keep what they acknowledged
// across a SIGKILL and a restart on the same port (fault-injection tests
// rely on both).
func TestKillAndRestartKeepData(t *testing.T) {
	testkit.SkipIfShort(t)
	ctx := context.Background()

	t.Run("postgres", func(t *testing.T) {
		dir, err := os.MkdirTemp("", "agentidp-pg-restart-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		pg, err := testkit.StartPostgres(ctx, testkit.PostgresConfig{Dir: dir, Durable: true})
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Stop()
		query := func(sql string) int {
			t.Helper()
			conn, err := pgx.Connect(ctx, pg.URL("postgres"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			var n int
			if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		conn, err := pgx.Connect(ctx, pg.URL("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE kept AS SELECT 42 AS n"); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		pg.Kill()
		if err := pg.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		if n := query("SELECT n FROM kept"); n != 42 {
			t.Fatalf("after restart: %d", n)
		}
	})

	t.Run("redis", func(t *testing.T) {
		dir := t.TempDir()
		r, err := testkit.StartRedis(ctx, testkit.RedisConfig{Dir: dir, Durable: true})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Stop()
		opts, _ := redis.ParseURL(r.URL(0))
		c := redis.NewClient(opts)
		defer c.Close()
		if err := c.Set(ctx, "kept", "yes", 0).Err(); err != nil {
			t.Fatal(err)
		}
		r.Kill()
		if err := r.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, "kept").Result(); err != nil || v != "yes" {
			t.Fatalf("after restart: %q %v", v, err)
		}
	})
}
