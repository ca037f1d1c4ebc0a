// The operator command `credentials vault-secrets migrate` (docs/credentials.md,
// "Verifiers in Vault"): it replaces every Vault KV version that holds a
// client secret (written before verifiers) with one that holds its
// verifier, and destroys the plaintext. It works on the database and Vault
// directly, not through a running server, with the service's own settings.

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/config"
	"github.com/sentryagent/agentidp/libs/logging"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/vaultclient"
	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
	pgstore "github.com/sentryagent/agentidp/services/credentials/internal/store/postgres"
	"github.com/sentryagent/agentidp/services/credentials/internal/vault"
)

const vaultSecretsUsage = `usage: credentials vault-secrets migrate [-dry-run]

Vault entries written before verifiers hold a client secret. migrate walks
every credential held in Vault: each such KV version that a secret version
references is replaced by a new KV version holding its verifier
(sha256$...), and the plaintext version is destroyed; plaintext versions
that nothing references are destroyed. Safe to run while the service runs
and to run again (a second run reports 0 migrated). Reads the service's
settings (DATABASE_URL, VAULT_ADDR, VAULT_TOKEN or VAULT_AUTH_METHOD, ...).
Exit status 1 if any credential failed (re-run), 2 on a usage or setup error.`

func vaultSecretsMain(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := vaultSecrets(ctx, args, os.Stdout)
	switch {
	case err == nil:
		return 0
	case r != nil:
		fmt.Fprintln(os.Stderr, "credentials vault-secrets:", err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "credentials vault-secrets:", err)
	return 2
}

// vaultSecretsConfig is what the command reads of the service's
// environment: its database and its Vault login. Not the mesh certificate:
// the command serves nothing and calls no other service.
type vaultSecretsConfig struct {
	LogLevel     string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat    string        `env:"LOG_FORMAT" envDefault:"text"`
	DatabaseURL  string        `env:"DATABASE_URL,required"`
	VaultAddr    string        `env:"VAULT_ADDR"`
	VaultToken   string        `env:"VAULT_TOKEN"`
	VaultMount   string        `env:"VAULT_MOUNT" envDefault:"secret"`
	VaultTimeout time.Duration `env:"VAULT_TIMEOUT" envDefault:"5s"`
	Vault        vaultclient.Settings
}

// vaultSecrets runs the command; the report is nil when it could not start.
func vaultSecrets(ctx context.Context, args []string, out io.Writer) (*credential.MigrationReport, error) {
	if len(args) == 0 || args[0] != "migrate" {
		return nil, usageError(vaultSecretsUsage)
	}
	fs := flag.NewFlagSet("vault-secrets migrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dryRun := fs.Bool("dry-run", false, "count what would change, change nothing")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 {
		return nil, usageError(vaultSecretsUsage)
	}
	cfg, err := config.Load[vaultSecretsConfig]()
	if err != nil {
		return nil, err
	}
	if cfg.VaultAddr == "" {
		return nil, fmt.Errorf("VAULT_ADDR is not set: there is nothing in Vault to migrate")
	}
	logger := logging.New("credentials", cfg.LogLevel, cfg.LogFormat)
	pool, err := postgres.Open(ctx, postgres.Config{URL: cfg.DatabaseURL}, nil)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	kv, err := vault.Connect(ctx, vault.Config{Addr: cfg.VaultAddr, Token: cfg.VaultToken, Mount: cfg.VaultMount,
		Auth: cfg.Vault.Config(cfg.VaultAddr, cfg.VaultToken, cfg.VaultTimeout, logger), Timeout: cfg.VaultTimeout})
	if err != nil {
		return nil, err
	}
	svc := credential.New(credential.Config{Store: pgstore.New(pool), Vault: kv,
		Metrics: credential.NewMetrics(prometheus.NewRegistry()), Logger: logger, VaultTimeout: cfg.VaultTimeout})
	r, err := svc.MigrateVault(ctx, *dryRun)
	verb := "migrated"
	if *dryRun {
		verb = "to migrate"
	}
	fmt.Fprintf(out, "credentials: %d\nsecret versions %s: %d\nalready verifiers: %d\nunreferenced plaintext versions destroyed: %d\n"+
		"versions without data: %d\nskipped (changed meanwhile): %d\nfailed credentials: %d\n",
		r.Credentials, verb, r.Migrated, r.Verifiers, r.Destroyed, r.Missing, r.Skipped, r.Failed)
	return &r, err
}
