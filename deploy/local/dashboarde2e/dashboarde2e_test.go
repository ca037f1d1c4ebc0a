// Package dashboarde2e drives the web dashboard in a real browser (Debian's
// Chromium through playwright-core) against an ephemeral mesh started by
// deploy/local/stack, with the dashboard served by the gateway at / as in
// production. The browser suite is dashboard/e2e (node --test); this package
// builds the dashboard when needed, starts the mesh, and runs the suite with
// the gateway's URL and the bootstrap admin in its environment.
package dashboarde2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/deploy/local/stack"
)

var (
	mesh  *stack.Stack
	admin stack.Admin
	root  string
	// skipReason, when set, is why the browser suite cannot run here.
	skipReason string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if stack.Short() {
		return m.Run()
	}
	var err error
	if root, err = stack.FindRepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if skipReason = missingTools(); skipReason != "" {
		if stack.InCI() {
			fmt.Fprintln(os.Stderr, "dashboarde2e: CI is set, so the browser suite must run, but:", skipReason)
			return 1
		}
		fmt.Fprintln(os.Stderr, "dashboarde2e: SKIPPED:", skipReason, "(in CI this fails)")
		return m.Run()
	}
	// The gateway serves dashboard/dist only if it exists when the stack
	// starts, so build first.
	if err := buildDashboard(); err != nil {
		fmt.Fprintln(os.Stderr, "dashboarde2e: build the dashboard:", err)
		return 1
	}
	return stack.TestMain(m, stack.TestMainOptions{
		Name: "dashboarde2e",
		Configure: func(_ string, cfg *stack.Config) error {
			cfg.RepoRoot = root
			return nil
		},
		Ready: func(_ context.Context, s *stack.Stack, a stack.Admin) error {
			mesh, admin = s, a
			return nil
		},
	})
}

// chromium is Debian's browser, or CHROMIUM_PATH.
func chromium() string {
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// missingTools says what the browser suite needs and this machine lacks.
func missingTools() string {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Sprintf("%s is not on PATH (the dashboard's build and browser suite need Node.js 20+)", tool)
		}
	}
	if _, err := os.Stat(chromium()); err != nil {
		return fmt.Sprintf("no Chromium at %s (apt-get install chromium, or set CHROMIUM_PATH)", chromium())
	}
	return ""
}

// buildDashboard runs npm ci when node_modules is missing or older than the
// lockfile, and npm run build when dist/ is missing or older than a source.
func buildDashboard() error {
	// Test binaries of several packages (or checkouts' runs) may get here at
	// once: one builds, the others then find dist/ fresh.
	unlock, err := lockFile(filepath.Join(os.TempDir(), fmt.Sprintf("agentidp-dashboard-build-%x.lock", sha256.Sum256([]byte(root)))))
	if err != nil {
		return err
	}
	defer unlock()
	dash := filepath.Join(root, "dashboard")
	lock := modTime(filepath.Join(dash, "package-lock.json"))
	if installed := modTime(filepath.Join(dash, "node_modules", ".package-lock.json")); installed.IsZero() || installed.Before(lock) {
		if err := npm(dash, "ci", "--prefer-offline", "--no-audit", "--no-fund"); err != nil {
			return err
		}
	}
	built := modTime(filepath.Join(dash, "dist", "index.html"))
	newest := lock
	for _, p := range []string{filepath.Join(dash, "src"), filepath.Join(dash, "index.html"), filepath.Join(dash, "public"),
		filepath.Join(root, "sdks", "typescript", "src"), filepath.Join(dash, "vite.config.ts"), filepath.Join(dash, "tailwind.config.js")} {
		if t := newestUnder(p); t.After(newest) {
			newest = t
		}
	}
	if !built.IsZero() && !built.Before(newest) {
		return nil
	}
	return npm(dash, "run", "build")
}

// lockFile holds an exclusive flock on path until the returned func is called.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

func npm(dir string, args ...string) error {
	cmd := exec.Command("npm", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	fmt.Fprintf(os.Stderr, "dashboarde2e: npm %s\n%s", strings.Join(args, " "), tail(out, 25))
	return nil
}

func modTime(p string) time.Time {
	st, err := os.Stat(p)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

func newestUnder(p string) time.Time {
	var newest time.Time
	_ = filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := d.Info(); err == nil && info.ModTime().After(newest) {
			newest = info.ModTime()
		}
		return nil
	})
	return newest
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestDashboard runs the browser suite (dashboard/e2e) against the mesh and
// fails with its output. Screenshots land in dashboard/e2e-screenshots/.
func TestDashboard(t *testing.T) {
	if mesh == nil && skipReason == "" {
		t.Skip("needs the whole stack; skipped in -short mode")
	}
	if skipReason != "" {
		t.Skip("SKIPPED: " + skipReason)
	}
	dash := filepath.Join(root, "dashboard")
	shots := filepath.Join(dash, "e2e-screenshots")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-concurrency=1", "--test-reporter=spec", "e2e/")
	cmd.Dir = dash
	cmd.Env = append(os.Environ(),
		"DASHBOARD_URL="+mesh.GatewayURL(),
		"AGENTIDP_CLIENT_ID="+admin.ClientID,
		"AGENTIDP_CLIENT_SECRET="+admin.ClientSecret,
		"CHROMIUM_PATH="+chromium(),
		"SCREENSHOT_DIR="+shots,
		"NO_COLOR=1",
	)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Stream the suite's report into the test log as it runs.
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		t.Log(sc.Text())
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		t.Log("reading the suite's output:", err)
	}
	err = cmd.Wait()
	took := time.Since(start).Round(100 * time.Millisecond)
	if err != nil {
		t.Fatalf("the dashboard's browser suite failed after %s: %v", took, err)
	}
	t.Logf("the dashboard's browser suite passed in %s; screenshots in %s", took, shots)
}
