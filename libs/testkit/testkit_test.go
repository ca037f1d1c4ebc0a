package testkit_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/sentryagent/agentidp/libs/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func TestDatabasesAreIsolatedAndReal(t *testing.T) {
	ctx := context.Background()
	a, b := testkit.NewDatabase(t), testkit.NewDatabase(t)
	if a == b {
		t.Fatalf("two tests got the same database %s", a)
	}
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var version string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version == "" {
		t.Fatal("empty server_version")
	}
}

func TestRedisIsReal(t *testing.T) {
	ctx := context.Background()
	opts, err := redis.ParseURL(testkit.NewRedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got := c.Get(ctx, "k").Val(); got != "v" {
		t.Fatalf("GET k = %q, want v", got)
	}
}

func TestVaultIsReal(t *testing.T) {
	v := testkit.NewVault(t)
	req, _ := http.NewRequest("GET", v.Addr()+"/v1/sys/mounts/secret", nil)
	req.Header.Set("X-Vault-Token", v.RootToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"version":"2"`) {
		t.Fatalf("secret/ is not KV v2: %d %s", resp.StatusCode, b)
	}
}
