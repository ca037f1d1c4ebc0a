package command

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `agentidp redis-acl`: a missing passwords file is created (0600, fresh
// passwords), the ACL holds none of them, a second run renders the same
// ACL from the file, and a malformed file is refused without echoing it.
func TestRedisACLCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "redis-passwords")
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Execute(context.Background(), Streams{Out: &out, Err: &errb}, args)
		return code, out.String(), errb.String()
	}
	if code, _, msg := run("redis-acl"); code != ExitUsage || !strings.Contains(msg, "--passwords") {
		t.Fatalf("without --passwords: %d %s", code, msg)
	}
	code, first, msg := run("redis-acl", "--passwords", file)
	if code != ExitOK {
		t.Fatalf("first run: %d %s", code, msg)
	}
	info, err := os.Stat(file)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("passwords file: %v %v", info, err)
	}
	b, _ := os.ReadFile(file)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		_, password, _ := strings.Cut(line, "=")
		if len(password) != 64 || strings.Contains(first, password) {
			t.Fatalf("a password is weak or in the ACL: %q", line)
		}
	}
	for _, want := range []string{"user default off", "user token on", "user authz on", "%R~agentidp:revoked:*", "user audit on", "user operator on"} {
		if !strings.Contains(first, want) {
			t.Fatalf("the ACL lacks %q:\n%s", want, first)
		}
	}
	if code, again, _ := run("redis-acl", "--passwords", file); code != ExitOK || again != first {
		t.Fatalf("a second run from the same file rendered another ACL")
	}
	if err := os.WriteFile(file, []byte("token=s3cret-value\nbroken line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, msg := run("redis-acl", "--passwords", file); code != ExitFailed || strings.Contains(msg, "s3cret") || !strings.Contains(msg, ":2:") {
		t.Fatalf("a malformed file: %d %s", code, msg)
	}
}
