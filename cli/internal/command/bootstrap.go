package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/signal"
	"strings"
	"syscall"
	"time"

	vault "github.com/hashicorp/vault/api"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/sentryagent/agentidp/cli/bootstrap"
	"github.com/sentryagent/agentidp/cli/bootstrap/kubesecret"
	"github.com/sentryagent/agentidp/cli/bootstrap/vaultkv"
	"github.com/sentryagent/agentidp/libs/config"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/grpcclient"
	"github.com/sentryagent/agentidp/libs/mtls"
)

// bootstrapEnv is what deployments set through the environment; each value
// is the default of the flag beside it. deploy/checks reads these tags to
// hold the compose service, the Kubernetes Job and the Terraform task to
// them (and derives from AGENTIDP_<SERVICE>_ADDR whom the bootstrap calls).
type bootstrapEnv struct {
	RegistryAddr    string        `env:"AGENTIDP_REGISTRY_ADDR" envDefault:"127.0.0.1:9101"`
	CredentialsAddr string        `env:"AGENTIDP_CREDENTIALS_ADDR" envDefault:"127.0.0.1:9102"`
	URL             string        `env:"AGENTIDP_URL"`
	Timeout         time.Duration `env:"AGENTIDP_BOOTSTRAP_TIMEOUT" envDefault:"5m"`
	// Output vault=PATH only. VAULT_TOKEN is never a flag: flags show in
	// process listings and --help.
	VaultAddr  string `env:"VAULT_ADDR"`
	VaultToken string `env:"VAULT_TOKEN"`
	VaultMount string `env:"VAULT_MOUNT" envDefault:"secret"`
	// The operators' mesh identity (spiffe://agentidp.local/bootstrap):
	// the services take internal calls over mutual TLS only, and allow
	// this identity the few calls a bootstrap makes (libs/mtls.Mesh).
	// AGENTIDP_INSECURE_PLAINTEXT instead for a plaintext development mesh.
	// A named field: its Validate runs when the command does, after the
	// flags' own checks.
	Mesh config.Mesh
}

type bootstrapFlags struct {
	env             bootstrapEnv
	output          string
	namespace       string
	rotate          bool
	rotateIfMissing bool
	force           bool
	keepRunning     bool
}

func newBootstrap(s Streams) *cobra.Command {
	var f bootstrapFlags
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Create the deployment's first platform admin and hand its secret over once",
		Long: `Create the first platform admin (agent "platform-admin", owner "platform",
every scope and platform:admin) and one credential, and hand the secret to
--output exactly once. Idempotent: a second run finds both and creates
nothing, and never prints a secret it did not just create.

It calls the registry and credentials services on their internal gRPC ports
(the gateway's policy needs an admin first), waiting up to --timeout for
them to become ready. docs/deploy.md shows it in every environment.

Outputs:
  stdout              print the credential once, framed (compose)
  env-file=PATH       a VARIABLE=value file, mode 0600 (make dev: .dev/env)
  k8s-secret=NAME     a Secret in the pod's namespace (the Kubernetes Job)
  vault=PATH          a KV v2 entry at $VAULT_MOUNT/PATH (Terraform on AWS and GCP)

Exit codes: 0 done (created, or already in place), 1 failed, 2 wrong
flags, 3 refused: the admin is suspended or decommissioned (--force).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBootstrap(cmd.Context(), s, f) },
	}
	env, err := config.Load[bootstrapEnv]()
	if err != nil {
		// Surfaces when the command runs (a bad AGENTIDP_BOOTSTRAP_TIMEOUT).
		cmd.RunE = func(*cobra.Command, []string) error { return usageError{err} }
	}
	f.env = env
	fl := cmd.Flags()
	fl.StringVar(&f.env.RegistryAddr, "registry-addr", env.RegistryAddr, "the registry's gRPC address (AGENTIDP_REGISTRY_ADDR)")
	fl.StringVar(&f.env.CredentialsAddr, "credentials-addr", env.CredentialsAddr, "the credentials service's gRPC address (AGENTIDP_CREDENTIALS_ADDR)")
	fl.StringVar(&f.env.URL, "url", env.URL, "the gateway's public base URL, handed over as AGENTIDP_URL (AGENTIDP_URL)")
	fl.DurationVar(&f.env.Timeout, "timeout", env.Timeout, "how long to wait for the services and retry what fails on the way (AGENTIDP_BOOTSTRAP_TIMEOUT)")
	fl.StringVarP(&f.output, "output", "o", "stdout", "where the secret goes: stdout, env-file=PATH, k8s-secret=NAME or vault=PATH")
	fl.StringVar(&f.namespace, "namespace", "", "k8s-secret: the Secret's namespace (default: the pod's)")
	fl.BoolVar(&f.rotate, "rotate", false, "issue a new secret although the admin has one; its other credentials are revoked once the new one is handed over")
	fl.BoolVar(&f.rotateIfMissing, "rotate-if-missing", false, "like --rotate, but only when the output does not hold a working secret (env-file, k8s-secret, vault)")
	fl.BoolVar(&f.force, "force", false, "reactivate a suspended admin, or register a new admin in place of a decommissioned one")
	fl.BoolVar(&f.keepRunning, "keep-running", false, "after the run, whatever its result, stay up until SIGTERM (a Cloud Run sidecar, which must not exit)")
	return cmd
}

func runBootstrap(ctx context.Context, s Streams, f bootstrapFlags) error {
	if f.rotate && f.rotateIfMissing {
		return usagef("--rotate and --rotate-if-missing exclude each other")
	}
	if f.env.Timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	log := func(line string) { fmt.Fprintln(s.Err, "bootstrap:", line) }
	out, err := newOutput(f, s)
	if err != nil {
		return err
	}
	if f.rotateIfMissing {
		if _, ok := out.(bootstrap.Holder); !ok {
			return usagef("--rotate-if-missing needs an output that keeps the secret (env-file, k8s-secret, vault); %s would rotate on every run", out)
		}
	}
	err = bootstrapWithRetry(ctx, f, out, log)
	if f.keepRunning {
		if err != nil {
			log("failed: " + err.Error())
		}
		log("staying up until SIGTERM (--keep-running)")
		wait, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		<-wait.Done()
	}
	return err
}

// newOutput parses --output.
func newOutput(f bootstrapFlags, s Streams) (bootstrap.Output, error) {
	kind, arg, _ := strings.Cut(f.output, "=")
	if kind != "stdout" && arg == "" {
		return nil, usagef("--output %s needs a value: %s=...", kind, kind)
	}
	switch kind {
	case "stdout":
		if arg != "" {
			return nil, usagef("--output stdout takes no value")
		}
		return &bootstrap.Stdout{W: s.Out}, nil
	case "env-file":
		return &bootstrap.EnvFile{Path: arg}, nil
	case "k8s-secret":
		return kubesecret.InCluster(f.namespace, arg)
	case "vault":
		if f.env.VaultAddr == "" || f.env.VaultToken == "" {
			return nil, usagef("--output vault needs VAULT_ADDR and VAULT_TOKEN")
		}
		cfg := vault.DefaultConfig() // TLS from VAULT_CACERT etc., as the services
		cfg.Address = f.env.VaultAddr
		client, err := vault.NewClient(cfg)
		if err != nil {
			return nil, err
		}
		client.SetToken(f.env.VaultToken)
		return vaultkv.New(client, f.env.VaultMount, strings.Trim(arg, "/")), nil
	}
	return nil, usagef("--output %q: want stdout, env-file=PATH, k8s-secret=NAME or vault=PATH", f.output)
}

// bootstrapWithRetry waits for the services, then runs the bootstrap until
// it succeeds, fails for good, or the timeout passes: a one-shot container
// starts with the mesh and may meet services that are still starting or
// restarting. Retrying is safe because a run is idempotent.
func bootstrapWithRetry(ctx context.Context, f bootstrapFlags, out bootstrap.Output, log func(string)) error {
	ctx, cancel := context.WithTimeout(ctx, f.env.Timeout)
	defer cancel()
	if err := f.env.Mesh.Validate(); err != nil {
		return usageError{err}
	}
	mesh, err := f.env.Mesh.Load(slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	if mesh != nil {
		log("mesh identity " + mtls.ID(mesh.Name()))
	}
	dial := func(name, addr string) (*grpc.ClientConn, error) {
		// Each call gets grpcclient's deadline and breaker, as between services.
		return grpcclient.Dial(addr, grpcclient.Config{Name: name, TLS: mesh})
	}
	regConn, err := dial("registry", f.env.RegistryAddr)
	if err != nil {
		return err
	}
	defer regConn.Close()
	credConn, err := dial("credentials", f.env.CredentialsAddr)
	if err != nil {
		return err
	}
	defer credConn.Close()

	log(fmt.Sprintf("registry %s, credentials %s, output: %s", f.env.RegistryAddr, f.env.CredentialsAddr, out))
	if kv, ok := out.(*vaultkv.KV); ok {
		// Best effort: a lapsed token fails the run below with Vault's own error.
		if renewed, err := kv.RenewToken(ctx); err != nil {
			log(err.Error())
		} else if renewed {
			log("renewed the Vault token")
		}
	}
	if err := bootstrap.WaitReady(ctx, map[string]*grpc.ClientConn{"registry": regConn, "credentials": credConn}, log); err != nil {
		return err
	}
	cfg := bootstrap.Config{
		Registry:        registryv1.NewRegistryServiceClient(regConn),
		Credentials:     credentialsv1.NewCredentialsServiceClient(credConn),
		Verifier:        credentialsv1.NewClientAuthServiceClient(credConn),
		Output:          out,
		URL:             f.env.URL,
		Rotate:          f.rotate,
		RotateIfMissing: f.rotateIfMissing,
		Force:           f.force,
		Log:             log,
	}
	delay := time.Second
	for {
		_, err := bootstrap.Run(ctx, cfg)
		if err == nil || !bootstrap.Transient(err) || ctx.Err() != nil {
			return err
		}
		log(fmt.Sprintf("%v; retrying in %s", err, delay))
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}
