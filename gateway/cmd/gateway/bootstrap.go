package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/sentryagent/agentidp/gateway/envoy"
)

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
