// Command audit serves the audit log: agentidp.audit.v1.AuditService and
// AuditIngestService over gRPC, plus /metrics, /healthz and /readyz over
// HTTP, while it ingests the registry's and the credentials service's change
// feeds and the Redis stream. internal/app does the wiring; `audit verify`
// (verify.go) checks the hash chain.
//
//	audit [serve]
//	audit verify [-from N] [-to N] [-public-key FILE | -vault-transit-key NAME] [-checkpoints FILE]
//	audit public-key    # the checkpoint signer's public key(s), PEM
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
	"github.com/sentryagent/agentidp/services/audit/internal/app"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "verify":
		os.Exit(verifyMain(os.Args[2:]))
	case len(os.Args) > 1 && os.Args[1] == "public-key":
		err = publicKey()
	case len(os.Args) > 1 && os.Args[1] != "serve":
		err = fmt.Errorf("unknown command %q (usage: audit [serve] | audit verify [flags] | audit public-key)", os.Args[1])
	default:
		err = run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "audit:", err)
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
	logger := logging.New("audit", cfg.LogLevel, cfg.LogFormat)
	a, err := app.New(ctx, cfg, app.Deps{Logger: logger, Metrics: metrics.NewRegistry()})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
