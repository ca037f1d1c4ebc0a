package app

import (
	"fmt"
	"net/netip"
	"time"

	libconfig "github.com/sentryagent/agentidp/libs/config"
)

// Config is the control plane's configuration, from the environment.
type Config struct {
	libconfig.Common
	// The gateway's mesh identity (spiffe://agentidp.local/gateway): Envoy
	// presents it to every upstream (the files are given to Envoy over SDS;
	// Envoy reads and watches them itself), and the control plane's
	// readiness probes too.
	libconfig.Mesh
	// ConfigPath is the gateway config file (listener, service endpoints).
	ConfigPath string `env:"GATEWAY_CONFIG,required"`
	// XDSAddr is where the ADS gRPC server listens for Envoy.
	XDSAddr string `env:"XDS_ADDR" envDefault:"127.0.0.1:18000"`
	// HTTPAddr serves /metrics, /healthz and /readyz.
	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:18080"`
	// HTTPAdvertiseAddr is how Envoy reaches HTTPAddr to proxy /readyz;
	// empty means HTTPAddr, with an unspecified IP replaced by loopback.
	HTTPAdvertiseAddr string `env:"HTTP_ADVERTISE_ADDR"`
	// NodeID is the Envoy node id the configuration is for.
	NodeID string `env:"ENVOY_NODE_ID" envDefault:"agentidp-gateway"`
	// PollInterval is how often the config file is checked for changes.
	PollInterval time.Duration `env:"GATEWAY_CONFIG_POLL_INTERVAL" envDefault:"500ms"`
	// UpstreamTimeout bounds an API call through the gateway.
	UpstreamTimeout time.Duration `env:"GATEWAY_UPSTREAM_TIMEOUT" envDefault:"5s"`
	// AuthzTimeout bounds one ext_authz check; past it the request is a 503.
	AuthzTimeout time.Duration `env:"GATEWAY_AUTHZ_TIMEOUT" envDefault:"1s"`
	// DashboardDir holds the built web dashboard (dashboard/dist), which
	// Envoy serves at / for every path no API route claims; empty serves
	// none (those paths stay ROUTE_NOT_FOUND).
	DashboardDir string `env:"DASHBOARD_DIR"`
}

// Validate checks the settings, naming the variable at fault.
func (c Config) Validate() error {
	if err := c.Common.Validate(); err != nil {
		return err
	}
	if err := c.Mesh.Validate(); err != nil {
		return err
	}
	if err := libconfig.CheckAddr("XDS_ADDR", c.XDSAddr); err != nil {
		return err
	}
	if err := libconfig.CheckAddr("HTTP_ADDR", c.HTTPAddr); err != nil {
		return err
	}
	if _, err := c.httpUpstream(); err != nil {
		return err
	}
	if c.NodeID == "" {
		return fmt.Errorf("ENVOY_NODE_ID: must not be empty")
	}
	if c.PollInterval <= 0 {
		return fmt.Errorf("GATEWAY_CONFIG_POLL_INTERVAL: must be positive")
	}
	if c.UpstreamTimeout <= 0 {
		return fmt.Errorf("GATEWAY_UPSTREAM_TIMEOUT: must be positive")
	}
	if c.AuthzTimeout <= 0 {
		return fmt.Errorf("GATEWAY_AUTHZ_TIMEOUT: must be positive")
	}
	return nil
}

// httpUpstream is the address Envoy dials for /readyz.
func (c Config) httpUpstream() (netip.AddrPort, error) {
	name, addr := "HTTP_ADVERTISE_ADDR", c.HTTPAdvertiseAddr
	if addr == "" {
		name, addr = "HTTP_ADDR", c.HTTPAddr
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%s: %q is not IP:port (Envoy dials it without DNS): %v", name, addr, err)
	}
	if ap.Addr().IsUnspecified() {
		lo := netip.IPv6Loopback()
		if ap.Addr().Is4() {
			lo = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
		ap = netip.AddrPortFrom(lo, ap.Port())
	}
	return ap, nil
}
