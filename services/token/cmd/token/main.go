// Command token is AgentIdP's OAuth 2.0 authorization server for agents:
// the client_credentials grant with RFC 9068 JWT access tokens,
// introspection, revocation, JWKS and RFC 8414 metadata over HTTP (behind
// Envoy), plus /metrics, /healthz and /readyz on an admin listener.
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
	"github.com/sentryagent/agentidp/services/token/internal/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "token:", err)
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
	logger := logging.New("token", cfg.LogLevel, cfg.LogFormat)
	serve.TuneGC(400)
	a, err := app.New(ctx, cfg, app.Deps{Logger: logger, Metrics: metrics.NewRegistry()})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
