package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// postgresDir returns where the dev cluster's data lives: .dev/data/postgres
// normally. As root the server runs as the "postgres" user, which cannot
// reach a checkout under a private home directory (/root is 0700); then the
// data goes to /var/tmp/agentidp-<hash> and .dev/data/postgres links to it.
func postgresDir(stateDir string) (string, error) {
	want := filepath.Join(stateDir, "data", "postgres")
	if os.Geteuid() != 0 || traversableByOthers(filepath.Dir(want)) {
		return want, nil
	}
	sum := sha256.Sum256([]byte(want))
	real := filepath.Join(os.TempDir(), "agentidp-"+hex.EncodeToString(sum[:6]), "postgres")
	if _, err := os.Stat("/var/tmp"); err == nil {
		real = filepath.Join("/var/tmp", "agentidp-"+hex.EncodeToString(sum[:6]), "postgres")
	}
	if err := os.MkdirAll(real, 0o700); err != nil {
		return "", err
	}
	if err := os.Chmod(filepath.Dir(real), 0o755); err != nil {
		return "", err
	}
	if target, err := os.Readlink(want); err != nil || target != real {
		_ = os.Remove(want)
		if err := os.Symlink(real, want); err != nil {
			return "", fmt.Errorf("link %s to %s: %w", want, real, err)
		}
	}
	return real, nil
}

// traversableByOthers reports whether every directory from dir up to / has
// the execute bit for others.
func traversableByOthers(dir string) bool {
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// Reset deletes a stopped stack's state directory, including PostgreSQL data
// kept outside it (see postgresDir).
func Reset(stateDir string) error {
	if pid, err := os.ReadFile(filepath.Join(stateDir, "devstack.pid")); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(pid))); err == nil && syscall.Kill(p, 0) == nil {
			return fmt.Errorf("a stack is running from %s (pid %d); stop it first", stateDir, p)
		}
	}
	link := filepath.Join(stateDir, "data", "postgres")
	if target, err := os.Readlink(link); err == nil {
		if err := os.RemoveAll(filepath.Dir(target)); err != nil {
			return err
		}
	}
	return os.RemoveAll(stateDir)
}
