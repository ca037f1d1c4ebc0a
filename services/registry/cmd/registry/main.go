// Command registry serves the agent registry: agentidp.registry.v1.RegistryService
// and AgentEventsService (its change feed) over gRPC, plus /metrics,
// /healthz and /readyz over HTTP. internal/app does the wiring.
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
	"github.com/sentryagent/agentidp/services/registry/internal/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
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
	logger := logging.New("registry", cfg.LogLevel, cfg.LogFormat)
	a, err := app.New(ctx, cfg, app.Deps{Logger: logger, Metrics: metrics.NewRegistry()})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
