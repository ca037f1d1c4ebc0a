package policytest

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The repository's policy passes its own tests here as it does in the
// service; a broken test is reported as a failure, not an error, and a
// policy that does not parse is an error.
func TestRun(t *testing.T) {
	ctx := context.Background()
	rep, err := Run(ctx, "../../../policies", nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed == 0 || rep.Failed != 0 || rep.Passed != len(rep.Results) {
		t.Fatalf("policies/: %d passed, %d failed of %d", rep.Passed, rep.Failed, len(rep.Results))
	}
	one, err := Run(ctx, "../../../policies", regexp.MustCompile(regexp.QuoteMeta(rep.Results[0].Name)+"$"))
	if err != nil || len(one.Results) == 0 || len(one.Results) >= len(rep.Results) {
		t.Fatalf("filtered run: %v, %+v", err, one)
	}

	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("p.rego", "package p\nallow if data.cfg.on\n")
	write("data/cfg.json", `{"on": true}`)
	write("p_test.rego", "package p\ntest_on if allow\ntest_off if not allow\n")
	rep, err = Run(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed != 1 || rep.Failed != 1 {
		t.Fatalf("%+v", rep)
	}
	for _, r := range rep.Results {
		if r.Name == "test_off" && (r.Pass || !strings.Contains(r.Location, "p_test.rego:3")) {
			t.Errorf("test_off: %+v", r)
		}
	}
	write("p.rego", "package p\nallow if {\n")
	if _, err := Run(ctx, dir, nil); err == nil {
		t.Error("a policy that does not parse ran")
	}
}
