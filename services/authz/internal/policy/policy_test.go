package policy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sentryagent/agentidp/services/authz/internal/policy"
)

// repoPolicies is the repository's policies/ directory.
func repoPolicies(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return filepath.Join(dir, "policies")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.work not found")
		}
		dir = parent
	}
}

// TestRepositoryPolicy runs the Rego tests of policies/ (make test runs
// this) and checks that the policy compiles for the service's query.
func TestRepositoryPolicy(t *testing.T) {
	b, err := policy.Load(repoPolicies(t))
	if err != nil {
		t.Fatal(err)
	}
	n, err := policy.RunTests(context.Background(), b)
	var tf *policy.TestFailure
	if errors.As(err, &tf) {
		for _, f := range tf.Failed {
			t.Errorf("Rego test %s", f)
		}
		t.Fatalf("%d of %d Rego tests failed", len(tf.Failed), tf.Total)
	}
	if err != nil {
		t.Fatal(err)
	}
	if n < 30 {
		t.Errorf("only %d Rego tests ran", n)
	}
	t.Logf("%d Rego tests passed", n)
	if _, err := policy.Compile(context.Background(), b, "data.agentidp.authz.decision"); err != nil {
		t.Fatal(err)
	}
}
