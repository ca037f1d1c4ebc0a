// Package chaos is AgentIdP's fault-injection suite: under a steady mixed
// load through the real Envoy gateway it crashes (SIGKILL) and restarts, one
// after another, every service, the control plane, PostgreSQL, Redis, Vault
// and Envoy, then checks that nothing acknowledged was lost, that every
// error was a clean 503 or a documented 4xx, that circuit breakers opened and
// closed, and that the mesh recovered by itself. `UPDATE_RELIABILITY=1 go
// test ./chaos` writes the results table into docs/reliability.md.
package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/deploy/local/stack"
)

// skipShort honours -short: the suite needs the whole mesh.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the whole stack; skipped in -short mode")
	}
}

// startMesh starts a private, durable mesh (fsync on in PostgreSQL, the
// append-only file in Redis, Raft storage in Vault: what production runs,
// so that a SIGKILL loses nothing acknowledged) and bootstraps the admin.
// It stops with the test; on failure the tail of every log is printed.
func startMesh(t *testing.T) (*stack.Stack, stack.Admin) {
	t.Helper()
	dir, err := os.MkdirTemp(memoryDir(), "agentidp-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	// Traversable, so that PostgreSQL (run as its own user) keeps its data
	// here too rather than under /var/tmp (see stack's postgresDir).
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ports, err := stack.FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	mesh, err := stack.Start(ctx, stack.Config{Dir: dir, Ports: ports, Logger: logger, Durable: true})
	if err != nil {
		_ = stack.Reset(dir)
		t.Fatalf("start stack: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			keepLogs(t, mesh.LogDir())
		}
		mesh.Stop()
		_ = stack.Reset(dir)
	})
	admin, err := mesh.BootstrapAdmin(ctx, filepath.Join(dir, "env"))
	if err != nil {
		t.Fatalf("bootstrap admin: %v", err)
	}
	return mesh, admin
}

// memoryDir is where the mesh keeps its data and logs: /dev/shm (tmpfs)
// when there is one. What the suite simulates is a process crash, which
// loses nothing in the page cache, so fsync adds nothing to the test;
// on the shared disk of the development VM it adds seconds-long stalls
// whenever other work floods the disk (services block writing their logs,
// PostgreSQL its WAL), and the figures would measure the disk, not the
// mesh. Data stays durable in the sense that matters: across SIGKILL.
func memoryDir() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return ""
}

// keepLogs prints the tail of every process log and copies the logs to a
// directory that outlives the test (the mesh's own is removed).
func keepLogs(t *testing.T, dir string) {
	kept, err := os.MkdirTemp("", "agentidp-chaos-logs-")
	if err != nil {
		t.Log(err)
	}
	entries, _ := os.ReadDir(dir)
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		b, _ := os.ReadFile(filepath.Join(dir, n))
		if kept != "" {
			_ = os.WriteFile(filepath.Join(kept, n), b, 0o644)
		}
		if len(b) > 1500 {
			b = b[len(b)-1500:]
		}
		t.Logf("==== %s (tail) ====\n%s", n, b)
	}
	if kept != "" {
		t.Logf("process logs kept in %s", kept)
	}
}

// waitFor polls f every 100ms until it returns nil or timeout passes.
func waitFor(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// retryAfterPresent reports whether a 503 or 429 told the client when to
// come back.
func retryAfterPresent(h http.Header) bool { return strings.TrimSpace(h.Get("Retry-After")) != "" }
