// Command gateway is AgentIdP's xDS control plane: it configures the Envoy
// gateway from a small config file and keeps it configured as that changes.
//
//	gateway                 serve (configured by environment variables)
//	gateway bootstrap ...   print the Envoy bootstrap that points at it (bootstrap.go)
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sentryagent/agentidp/gateway/internal/app"
	"github.com/sentryagent/agentidp/libs/config"
	"github.com/sentryagent/agentidp/libs/logging"
	"github.com/sentryagent/agentidp/libs/metrics"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "bootstrap" {
		if err := bootstrap(os.Args[2:], os.Stdout, os.Stderr); err != nil {
			if !errors.Is(err, errUsage) {
				fmt.Fprintln(os.Stderr, "gateway bootstrap:", err)
			}
			os.Exit(2)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.Load[app.Config]()
	if err != nil {
		return err
	}
	logger := logging.New("gateway", cfg.LogLevel, cfg.LogFormat)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	a, err := app.New(ctx, cfg, app.Deps{Logger: logger, Metrics: metrics.NewRegistry(), Reload: hup})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
