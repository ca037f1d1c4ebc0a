// Command authz is AgentIdP's authorization service: Envoy's ext_authz
// filter asks it (envoy.service.auth.v3.Authorization/Check, gRPC) about
// every API call; it verifies the bearer token, enforces the kill switch,
// evaluates the policies/ directory with embedded OPA and rate-limits per
// agent. /metrics, /healthz and /readyz are on an admin HTTP listener.
// internal/app does the wiring.
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
	"github.com/sentryagent/agentidp/libs/serve"
	"github.com/sentryagent/agentidp/services/authz/internal/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "authz:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1) // re-read the policy directory now
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	cfg, err := config.Load[app.Config]()
	if err != nil {
		return err
	}
	logger := logging.New("authz", cfg.LogLevel, cfg.LogFormat)
	// The hot path allocates a few kilobytes per check (OPA's evaluator)
	// over a small heap.
	serve.TuneGC(400)
	a, err := app.New(ctx, cfg, app.Deps{Logger: logger, Metrics: metrics.NewRegistry(), Reload: hup})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
