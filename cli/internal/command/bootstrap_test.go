package command

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
)

// The command line: wrong flags exit 2 before anything is dialled; a
// service that never answers exits 1 once --timeout passes, naming it.
// The bootstrap itself runs against the live mesh in deploy/local/bootstrape2e.
func TestBootstrapCommandLine(t *testing.T) {
	t.Setenv("VAULT_ADDR", "")
	t.Setenv("VAULT_TOKEN", "")
	// Plaintext: the services down here are closed ports; the mesh's TLS
	// is tested against the live mesh (deploy/local/bootstrape2e).
	t.Setenv("AGENTIDP_INSECURE_PLAINTEXT", "true")
	closed := closedAddr(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown flag", []string{"bootstrap", "--bogus"}, ExitUsage, "unknown flag"},
		{"argument", []string{"bootstrap", "extra"}, ExitUsage, "unknown command"},
		{"unknown command", []string{"boot"}, ExitUsage, "unknown command"},
		{"unknown output", []string{"bootstrap", "--output", "s3=bucket"}, ExitUsage, "want stdout"},
		{"output without value", []string{"bootstrap", "--output", "env-file"}, ExitUsage, "needs a value"},
		{"stdout with value", []string{"bootstrap", "--output", "stdout=x"}, ExitUsage, "takes no value"},
		{"both rotations", []string{"bootstrap", "--rotate", "--rotate-if-missing"}, ExitUsage, "exclude each other"},
		{"rotate-if-missing on stdout", []string{"bootstrap", "--rotate-if-missing"}, ExitUsage, "would rotate on every run"},
		{"vault without token", []string{"bootstrap", "--output", "vault=agentidp/admin"}, ExitUsage, "VAULT_ADDR and VAULT_TOKEN"},
		{"k8s outside a pod", []string{"bootstrap", "--output", "k8s-secret=admin"}, ExitFailed, "Kubernetes pod"},
		{"bad timeout", []string{"bootstrap", "--timeout", "0s"}, ExitUsage, "positive"},
		{"services down", []string{"bootstrap", "--timeout", "2s", "--registry-addr", closed, "--credentials-addr", closed}, ExitFailed, "the services are not ready: credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Execute(context.Background(), Streams{Out: &out, Err: &errb}, tc.args)
			if code != tc.code || !strings.Contains(errb.String(), tc.msg) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, errb.String(), tc.code, tc.msg)
			}
			if out.Len() > 0 {
				t.Errorf("printed to stdout: %s", out.String())
			}
		})
	}
}

// The environment sets the flags' defaults.
func TestBootstrapEnvironment(t *testing.T) {
	t.Setenv("AGENTIDP_REGISTRY_ADDR", "registry:9101")
	t.Setenv("AGENTIDP_BOOTSTRAP_TIMEOUT", "not-a-duration")
	var out, errb bytes.Buffer
	if code := Execute(context.Background(), Streams{Out: &out, Err: &errb}, []string{"bootstrap"}); code != ExitUsage ||
		!strings.Contains(errb.String(), "AGENTIDP_BOOTSTRAP_TIMEOUT") {
		t.Errorf("a bad AGENTIDP_BOOTSTRAP_TIMEOUT: exit %d, %s", code, errb.String())
	}
	t.Setenv("AGENTIDP_BOOTSTRAP_TIMEOUT", "1m")
	cmd := NewRoot(Streams{Out: &out, Err: &errb})
	b, _, err := cmd.Find([]string{"bootstrap"})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Flags().Lookup("registry-addr").DefValue; got != "registry:9101" {
		t.Errorf("--registry-addr defaults to %q, want AGENTIDP_REGISTRY_ADDR", got)
	}
	if got := b.Flags().Lookup("timeout").DefValue; got != "1m0s" {
		t.Errorf("--timeout defaults to %q, want AGENTIDP_BOOTSTRAP_TIMEOUT", got)
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
