package idp_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

const quickstartFile = "examples/quickstart/main.go"

// readmeBlock returns the code block that follows the README's marker for
// file: the README shows the quickstart verbatim.
func readmeBlock(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "<!-- quickstart: "+file+" -->\n")
	if !ok {
		t.Fatalf("README.md has no <!-- quickstart: %s --> marker", file)
	}
	_, block, ok := strings.Cut(after, "\n") // the opening fence
	if !ok {
		t.Fatal("no code block after the quickstart marker")
	}
	block, _, ok = strings.Cut(block, "```\n")
	if !ok {
		t.Fatal("the quickstart code block is not closed")
	}
	return block
}

func TestQuickstartIsInREADME(t *testing.T) {
	src, err := os.ReadFile(quickstartFile)
	if err != nil {
		t.Fatal(err)
	}
	if readmeBlock(t, quickstartFile) != string(src) {
		t.Fatalf("README.md's quickstart differs from %s: copy the file into the README", quickstartFile)
	}
}

func TestQuickstartRuns(t *testing.T) {
	liveMesh(t)
	goBin, err := exec.LookPath("go")
	if err != nil {
		if inCI() {
			t.Fatal("CI is set, so the quickstart must run, but there is no go command on PATH")
		}
		t.Skip("no go command on PATH (in CI this fails)")
	}
	out, err := exec.Command(goBin, "run", "./examples/quickstart").CombinedOutput()
	if err != nil {
		t.Fatalf("go run ./examples/quickstart: %v\n%s", err, out)
	}
	for _, want := range []string{"secret [REDACTED]", "I am invoice-bot and I am active", "AGENT_NOT_FOUND 404"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("the quickstart's output lacks %q:\n%s", want, out)
		}
	}
}

// inCI reports whether this is a CI run: CI is set to anything but "", 0
// or false (the repository's .ci/run sets CI=1). There nothing may skip
// for a missing toolchain.
func inCI() bool {
	v := os.Getenv("CI")
	if b, err := strconv.ParseBool(v); err == nil {
		return b
	}
	return v != ""
}
