// Command gateway is AgentIdP's xDS control plane: it configures the Envoy
// gateway from a small config file and keeps it configured as that changes.
//
//	gateway                 serve (configured by environment variables)
//	gateway bootstrap ...   print the Envoy bootstrap that points at it
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sentryagent/agentidp/gateway/envoy"
	"github.com/sentryagent/agentidp/gateway/internal/gateway"
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
	cfg, err := config.Load[gateway.Config]()
	if err != nil {
		return err
	}
	logger := logging.New("gateway", cfg.LogLevel, cfg.LogFormat)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	return gateway.Run(ctx, cfg, gateway.Deps{
		Logger:  logger,
		Metrics: metrics.NewRegistry(),
		Reload:  hup,
	})
}

// errUsage reports bad arguments the flag package has already explained.
var errUsage = errors.New("usage")

// bootstrap prints the Envoy bootstrap for a control plane at -xds.
func bootstrap(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gateway bootstrap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var b envoy.Bootstrap
	fs.StringVar(&b.XDSAddr, "xds", "127.0.0.1:18000", "control plane ADS address (the gateway's XDS_ADDR)")
	fs.StringVar(&b.AdminAddr, "admin", "127.0.0.1:9901", "Envoy admin listen address; keep it on loopback")
	fs.StringVar(&b.NodeID, "node", "agentidp-gateway", "Envoy node id (the gateway's ENVOY_NODE_ID)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	out, err := b.Render()
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}
