package testkit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The servers a test binary shares: one PostgreSQL and one Redis, started on
// first use and stopped by Main. Each test gets its own database (or Redis
// logical database), so tests never see each other's data.
var (
	sharedMu     sync.Mutex
	sharedPG     *Postgres
	sharedRedis  *Redis
	retiredRedis []*Redis
	sharedDirs   []string
	dbCounter    atomic.Int64
	redisDBs     atomic.Int64
)

// Main runs a package's tests and stops the shared servers afterwards. Call
// it from TestMain: func TestMain(m *testing.M) { testkit.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// StopShared stops the shared servers and removes their directories.
func StopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	sharedPG.Stop()
	sharedRedis.Stop()
	for _, r := range retiredRedis {
		r.Stop()
	}
	sharedPG, sharedRedis, retiredRedis = nil, nil, nil
	for _, d := range sharedDirs {
		_ = os.RemoveAll(d)
	}
	sharedDirs = nil
}

// NewDatabase returns the URL of a new, empty database on the shared
// PostgreSQL server, starting the server on first use.
func NewDatabase(t testing.TB) string {
	t.Helper()
	SkipIfShort(t)
	pg := sharedPostgres(t)
	name := fmt.Sprintf("t%d_%s", dbCounter.Add(1), sanitize(t.Name()))
	url, err := pg.CreateDatabase(context.Background(), name)
	if err != nil {
		t.Fatalf("create database: %v", err)
	}
	return url
}

// SharedPostgres returns the shared server, starting it on first use.
func SharedPostgres(t testing.TB) *Postgres {
	t.Helper()
	SkipIfShort(t)
	return sharedPostgres(t)
}

func sharedPostgres(t testing.TB) *Postgres {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedPG != nil {
		return sharedPG
	}
	// Under /tmp, not t.TempDir(): the server's own user must reach it.
	dir, err := os.MkdirTemp("", "agentidp-pg-")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := StartPostgres(context.Background(), PostgresConfig{Dir: dir})
	if err != nil {
		_ = os.RemoveAll(dir)
		t.Fatalf("start postgres: %v", err)
	}
	sharedDirs = append(sharedDirs, dir)
	sharedPG = pg
	return pg
}

// NewRedisURL returns the URL of an unused logical database on the shared
// Redis server (16 per server; then a new server starts).
func NewRedisURL(t testing.TB) string {
	t.Helper()
	SkipIfShort(t)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	n := redisDBs.Add(1) - 1
	if sharedRedis == nil || n%16 == 0 {
		dir, err := os.MkdirTemp("", "agentidp-redis-")
		if err != nil {
			t.Fatal(err)
		}
		r, err := StartRedis(context.Background(), RedisConfig{Dir: dir})
		if err != nil {
			t.Fatalf("start redis: %v", err)
		}
		sharedDirs = append(sharedDirs, dir)
		// Earlier servers keep serving the tests that use them until Main ends.
		retiredRedis = append(retiredRedis, sharedRedis)
		sharedRedis = r
	}
	return sharedRedis.URL(int(n % 16))
}

func sanitize(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	return b.String()
}

// NewVault starts a Vault dev server for one test and stops it when the
// test ends. (Vault dev servers start in about a second and keep everything
// in memory, so each test gets its own.)
func NewVault(t testing.TB) *Vault {
	t.Helper()
	SkipIfShort(t)
	v, err := StartVault(context.Background(), VaultConfig{})
	if err != nil {
		t.Fatalf("start vault: %v", err)
	}
	t.Cleanup(v.Stop)
	return v
}

// NewTLSVault starts a dev Vault serving HTTPS with a certificate of its
// own CA (Vault.CACert), for clients that must be told the CA
// (VAULT_CACERT). Stopped when the test ends.
func NewTLSVault(t testing.TB) *Vault {
	t.Helper()
	SkipIfShort(t)
	v, err := StartVault(context.Background(), VaultConfig{TLS: true})
	if err != nil {
		t.Fatalf("start vault: %v", err)
	}
	t.Cleanup(func() {
		v.Stop()
		_ = os.RemoveAll(filepath.Dir(v.CACert))
	})
	return v
}

// NewPersistentVault starts a file-backed Vault for one test: it survives
// Kill and Restart with its data, as a production Vault would. Stopped and
// removed when the test ends.
func NewPersistentVault(t testing.TB) *Vault {
	t.Helper()
	SkipIfShort(t)
	dir, err := os.MkdirTemp("", "agentidp-vault-")
	if err != nil {
		t.Fatal(err)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	v, err := StartVault(context.Background(), VaultConfig{Dir: dir, Port: port})
	if err != nil {
		_ = os.RemoveAll(dir)
		t.Fatalf("start vault: %v", err)
	}
	t.Cleanup(func() {
		v.Stop()
		_ = os.RemoveAll(dir)
	})
	return v
}
