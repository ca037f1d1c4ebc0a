// Package gateway wires the control plane together: the config file
// watcher feeds the xDS snapshot builder, the ADS server hands snapshots to
// Envoy, and an HTTP server reports health, readiness and metrics.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/sentryagent/agentidp/gateway/internal/dashboard"
	"github.com/sentryagent/agentidp/gateway/internal/readiness"
	"github.com/sentryagent/agentidp/gateway/internal/topology"
	"github.com/sentryagent/agentidp/gateway/internal/xds"
	libconfig "github.com/sentryagent/agentidp/libs/config"
	"github.com/sentryagent/agentidp/libs/health"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/mtls"
	"github.com/sentryagent/agentidp/libs/serve"
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

// Deps are the process-wide things Run uses but does not own.
type Deps struct {
	Logger  *slog.Logger
	Metrics *prometheus.Registry
	// Reload, if set, forces a re-read of the config file (SIGHUP).
	Reload <-chan os.Signal
	// Ready, if set, is called once both servers listen and the first
	// configuration is installed (tests use it).
	Ready func(xdsAddr, httpAddr net.Addr)
}

// Run serves until ctx ends, then drains and returns. The config file must
// be valid at start: a gateway that starts with no configuration would
// serve nothing and look healthy.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	logger := deps.Logger
	if _, err := topology.Load(cfg.ConfigPath); err != nil {
		return fmt.Errorf("GATEWAY_CONFIG: %w", err)
	}
	upstream, err := cfg.httpUpstream()
	if err != nil {
		return err
	}
	mesh, err := cfg.Mesh.Load(logger)
	if err != nil {
		return err
	}
	var meshFiles *mtls.Files
	if mesh != nil {
		if mesh.Name() != mtls.Gateway {
			return fmt.Errorf("TLS_CERT_FILE: the certificate names %s, not the gateway's %s", mtls.ID(mesh.Name()), mtls.ID(mtls.Gateway))
		}
		f := cfg.Mesh.Files()
		meshFiles = &f
	}
	builder, err := xds.NewBuilder(xds.BuilderConfig{GatewayHTTP: upstream, UpstreamTimeout: cfg.UpstreamTimeout, AuthzTimeout: cfg.AuthzTimeout, Mesh: meshFiles})
	if err != nil {
		return err
	}
	cp := xds.New(ctx, xds.Config{NodeID: cfg.NodeID, Builder: builder, Logger: logger, Metrics: deps.Metrics})

	var current atomic.Pointer[topology.Config]
	applied := make(chan struct{})
	var once sync.Once
	watcher := &topology.Watcher{
		Path:     cfg.ConfigPath,
		Interval: cfg.PollInterval,
		Logger:   logger,
		Reload:   deps.Reload,
		Rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "gateway", Name: "config_rejected_total",
			Help: "Versions of the gateway config file that were invalid or could not be applied.",
		}),
		Apply: func(ctx context.Context, res *topology.Resolved) error {
			if err := cp.Apply(ctx, res); err != nil {
				return err
			}
			current.Store(res.Config)
			once.Do(func() { close(applied) })
			return nil
		},
	}
	deps.Metrics.MustRegister(watcher.Rejected)

	checker := readiness.New(readiness.FromConfig(current.Load), time.Second, mesh)
	defer checker.Close()

	grpcServer := grpc.NewServer(
		// Envoy pings its xDS connection every 30s (bootstrap.yaml).
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	cp.Register(grpcServer)

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(deps.Metrics))
	mux.Handle("GET /healthz", health.LiveHandler())
	mux.Handle("GET /readyz", checker.Handler())
	ui, err := dashboard.New(cfg.DashboardDir)
	if err != nil {
		return fmt.Errorf("DASHBOARD_DIR: %w", err)
	}
	mux.Handle(dashboard.PathPrefix, ui)
	httpServer := serve.NewHTTPServer(mux, logger)

	var lc net.ListenConfig
	xdsLis, err := lc.Listen(ctx, "tcp", cfg.XDSAddr)
	if err != nil {
		return fmt.Errorf("XDS_ADDR: %w", err)
	}
	httpLis, err := lc.Listen(ctx, "tcp", cfg.HTTPAddr)
	if err != nil {
		xdsLis.Close()
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serve.GRPC(gctx, grpcServer, xdsLis, cfg.ShutdownTimeout) })
	g.Go(func() error { return serve.HTTP(gctx, httpServer, httpLis, cfg.ShutdownTimeout) })
	g.Go(func() error { return watcher.Run(gctx) })
	g.Go(func() error {
		select {
		case <-applied:
		case <-gctx.Done():
			return nil
		}
		logger.Info("gateway control plane serving", "xds", xdsLis.Addr().String(), "http", httpLis.Addr().String(),
			"node", cfg.NodeID, "config", cfg.ConfigPath, "version", cp.Version())
		if deps.Ready != nil {
			deps.Ready(xdsLis.Addr(), httpLis.Addr())
		}
		return nil
	})
	err = g.Wait()
	logger.Info("gateway control plane stopped")
	return err
}
