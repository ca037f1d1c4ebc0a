package stack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/sentryagent/agentidp/cli/bootstrap"
	"github.com/sentryagent/agentidp/libs/mtls"
	"github.com/sentryagent/agentidp/libs/testkit"
)

// Admin is the platform admin's client credential.
type Admin struct {
	ClientID     string
	ClientSecret string
}

// BootstrapAdmin makes sure the platform admin exists with a working
// credential kept in envFile, and returns the credential. It runs
// `agentidp bootstrap`, the command every deployment runs (docs/deploy.md),
// with --output env-file=envFile; the file also gets AGENTIDP_URL, so
// `. envFile` sets up scripts and SDKs. A local stack is one developer's:
// --rotate-if-missing gives a new secret when envFile lost it (the saved one
// is reused while it works) and --force repairs a suspended or
// decommissioned admin, so that make dev always ends with an admin.
func (s *Stack) BootstrapAdmin(ctx context.Context, envFile string) (Admin, error) {
	cmd := s.Agentidp(ctx, "bootstrap", "--output", "env-file="+envFile, "--rotate-if-missing", "--force", "--timeout", "2m")
	out, err := cmd.CombinedOutput() // progress lines only: the secret goes to envFile
	if err != nil {
		return Admin{}, fmt.Errorf("agentidp bootstrap: %w\n%s", err, out)
	}
	s.log.Info("bootstrap", "output", strings.TrimSpace(string(out)))
	c, _, err := (&bootstrap.EnvFile{Path: envFile}).Load(ctx)
	if err != nil {
		return Admin{}, err
	}
	if !c.Complete() {
		return Admin{}, fmt.Errorf("agentidp bootstrap left no credential in %s:\n%s", envFile, out)
	}
	return Admin{ClientID: c.ClientID, ClientSecret: c.ClientSecret.Reveal()}, nil
}

// Agentidp returns the stack's agentidp command line with args, set up
// for this stack: its registry, credentials service and public URL
// (AGENTIDP_REGISTRY_ADDR, AGENTIDP_CREDENTIALS_ADDR, AGENTIDP_URL).
func (s *Stack) Agentidp(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, s.Binary("agentidp"), args...)
	cmd.Env = append(os.Environ(),
		"AGENTIDP_REGISTRY_ADDR="+testkit.Addr(s.cfg.Ports.RegistryGRPC),
		"AGENTIDP_CREDENTIALS_ADDR="+testkit.Addr(s.cfg.Ports.CredentialsGRPC),
		"AGENTIDP_URL="+s.GatewayURL(),
	)
	// The operators' mesh identity: the services take nothing else.
	cmd.Env = append(cmd.Env, s.MeshEnv(mtls.Bootstrap)...)
	return cmd
}
