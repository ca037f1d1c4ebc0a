package clie2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/deploy/local/stack"
)

// The README's walkthrough with the CLI runs as written: its shell blocks,
// in a directory laid out as make dev leaves the repository (.dev/bin,
// .dev/env, policies), against the mesh. Only `audit query --follow`,
// which runs until interrupted, is left out (TestAudit follows).
func TestReadmeWalkthrough(t *testing.T) {
	h := newHome(t)
	root, err := stack.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(readme)
	start := strings.Index(doc, "### With the agentidp CLI")
	end := strings.Index(doc, "### The same with curl")
	if start < 0 || end < start {
		t.Fatal("README.md: no section \"### With the agentidp CLI\" before \"### The same with curl\"")
	}
	var script strings.Builder
	blocks := 0
	for _, part := range strings.Split(doc[start:end], "```sh\n")[1:] {
		block, _, ok := strings.Cut(part, "```")
		if !ok {
			t.Fatal("README.md: unterminated code block")
		}
		blocks++
		for _, line := range strings.SplitAfter(block, "\n") {
			if !strings.Contains(line, "--follow") {
				script.WriteString(line)
			}
		}
	}
	if blocks < 2 {
		t.Fatalf("README.md: %d shell blocks in the CLI walkthrough", blocks)
	}

	// The repository as make dev leaves it.
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".dev", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(mesh.Binary("agentidp"), filepath.Join(dir, ".dev", "bin", "agentidp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "policies"), filepath.Join(dir, "policies")); err != nil {
		t.Fatal(err)
	}
	env := "AGENTIDP_URL=" + mesh.GatewayURL() + "\nAGENTIDP_CLIENT_ID=" + admin.ClientID + "\nAGENTIDP_CLIENT_SECRET=" + admin.ClientSecret + "\n"
	if err := os.WriteFile(filepath.Join(dir, ".dev", "env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := h.command(ctx, "unused")
	cmd.Path, cmd.Args, cmd.Dir = "/bin/bash", []string{"bash", "-c", script.String()}, dir
	out, err := cmd.CombinedOutput()
	t.Logf("the walkthrough:\n%s", out)
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	o := string(out)
	// What the walkthrough says happens. Errors: the two it shows, no other.
	for _, want := range []string{"Logged in to", "invoice-bot", "exit 4", "AGENT_NOT_FOUND", "exit 3", "INSUFFICIENT_SCOPE",
		"written to report-bot.secret", "ACTION", "Intact:", "passed, 0 failed"} {
		if !strings.Contains(o, want) {
			t.Errorf("the walkthrough printed no %q", want)
		}
	}
	if n := strings.Count(o, "agentidp: "); n != 2 {
		t.Errorf("the walkthrough printed %d errors, want the 2 it shows", n)
	}
	// The token introspected active, then inactive once its agent was
	// suspended (the kill switch).
	if !regexp.MustCompile(`Active:\s+true[\s\S]*Active:\s+false`).MatchString(o) {
		t.Error("the token did not introspect active, then inactive")
	}
}
