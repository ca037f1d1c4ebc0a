// Command credentials serves agents' client credentials:
// agentidp.credentials.v1.CredentialsService, ClientAuthService and
// CredentialEventsService (its change feed) over gRPC, plus /metrics,
// /healthz and /readyz over HTTP. Secrets live in Vault KV v2 when
// VAULT_ADDR is set, else only as one-way hashes in Postgres.
// internal/app does the wiring; `credentials legacy-secrets` (legacy.go)
// and `credentials vault-secrets` (vaultsecrets.go) are operator commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sentryagent/agentidp/libs/config"
	"github.com/sentryagent/agentidp/libs/logging"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/services/credentials/internal/app"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "legacy-secrets" {
		os.Exit(legacySecretsMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "vault-secrets" {
		os.Exit(vaultSecretsMain(os.Args[2:]))
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "credentials:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load[app.Config]()
	if err != nil {
		return err
	}
	logger := logging.New("credentials", cfg.LogLevel, cfg.LogFormat)
	a, err := app.New(ctx, cfg, app.Deps{Logger: logger, Metrics: metrics.NewRegistry()})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
