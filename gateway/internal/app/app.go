// Package app wires the gateway's control plane together: the config file
// watcher feeds the xDS snapshot builder, the ADS server hands snapshots to
// Envoy, and an HTTP server reports health, readiness and metrics (and
// serves the dashboard). The shape is every service's: Config, Deps, New,
// Run (docs/architecture.md, "Anatomy of a service").
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
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
	"github.com/sentryagent/agentidp/libs/health"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/mtls"
	"github.com/sentryagent/agentidp/libs/serve"
)

// Deps are the process-wide things the control plane uses but does not own.
type Deps struct {
	Logger  *slog.Logger
	Metrics *prometheus.Registry
	// Reload, if set, forces a re-read of the config file (SIGHUP).
	Reload <-chan os.Signal
	// Ready, if set, is called once both servers listen and the first
	// configuration is installed (tests use it).
	Ready func(xdsAddr, httpAddr net.Addr)
}

// App is the control plane, built and listening; Run serves it.
type App struct {
	cfg     Config
	deps    Deps
	cp      *xds.ControlPlane
	watcher *topology.Watcher
	checker *readiness.Checker
	applied chan struct{} // closed once the first configuration is installed
	grpc    *grpc.Server
	http    *http.Server
	xdsLis  net.Listener
	httpLis net.Listener
}

// New builds the control plane and binds its listeners; ctx bounds the ADS
// server's snapshot work. The config file must be valid at start: a
// gateway that starts with no configuration would serve nothing and look
// healthy.
func New(ctx context.Context, cfg Config, deps Deps) (_ *App, err error) {
	logger := deps.Logger
	if _, err := topology.Load(cfg.ConfigPath); err != nil {
		return nil, fmt.Errorf("GATEWAY_CONFIG: %w", err)
	}
	upstream, err := cfg.httpUpstream()
	if err != nil {
		return nil, err
	}
	mesh, err := cfg.Mesh.Load(logger)
	if err != nil {
		return nil, err
	}
	var meshFiles *mtls.Files
	if mesh != nil {
		if mesh.Name() != mtls.Gateway {
			return nil, fmt.Errorf("TLS_CERT_FILE: the certificate names %s, not the gateway's %s", mtls.ID(mesh.Name()), mtls.ID(mtls.Gateway))
		}
		f := cfg.Mesh.Files()
		meshFiles = &f
	}
	builder, err := xds.NewBuilder(xds.BuilderConfig{GatewayHTTP: upstream, UpstreamTimeout: cfg.UpstreamTimeout, AuthzTimeout: cfg.AuthzTimeout, Mesh: meshFiles})
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, deps: deps, applied: make(chan struct{})}
	a.cp = xds.New(ctx, xds.Config{NodeID: cfg.NodeID, Builder: builder, Logger: logger, Metrics: deps.Metrics})

	var current atomic.Pointer[topology.Config]
	var once sync.Once
	a.watcher = &topology.Watcher{
		Path:     cfg.ConfigPath,
		Interval: cfg.PollInterval,
		Logger:   logger,
		Reload:   deps.Reload,
		Rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "gateway", Name: "config_rejected_total",
			Help: "Versions of the gateway config file that were invalid or could not be applied.",
		}),
		Apply: func(ctx context.Context, res *topology.Resolved) error {
			if err := a.cp.Apply(ctx, res); err != nil {
				return err
			}
			current.Store(res.Config)
			once.Do(func() { close(a.applied) })
			return nil
		},
	}
	deps.Metrics.MustRegister(a.watcher.Rejected)

	a.checker = readiness.New(readiness.FromConfig(current.Load), time.Second, mesh)
	defer func() {
		if err != nil {
			a.checker.Close()
		}
	}()

	a.grpc = grpc.NewServer(
		// Envoy pings its xDS connection every 30s (bootstrap.yaml).
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	a.cp.Register(a.grpc)

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(deps.Metrics))
	mux.Handle("GET /healthz", health.LiveHandler())
	mux.Handle("GET /readyz", a.checker.Handler())
	ui, err := dashboard.New(cfg.DashboardDir)
	if err != nil {
		return nil, fmt.Errorf("DASHBOARD_DIR: %w", err)
	}
	mux.Handle(dashboard.PathPrefix, ui)
	a.http = serve.NewHTTPServer(mux, logger)

	var lc net.ListenConfig
	if a.xdsLis, err = lc.Listen(ctx, "tcp", cfg.XDSAddr); err != nil {
		return nil, fmt.Errorf("XDS_ADDR: %w", err)
	}
	if a.httpLis, err = lc.Listen(ctx, "tcp", cfg.HTTPAddr); err != nil {
		a.xdsLis.Close()
		return nil, fmt.Errorf("HTTP_ADDR: %w", err)
	}
	return a, nil
}

// Addrs are the bound xDS and HTTP addresses.
func (a *App) Addrs() (xdsAddr, httpAddr net.Addr) { return a.xdsLis.Addr(), a.httpLis.Addr() }

// Run serves until ctx ends, then drains and returns.
func (a *App) Run(ctx context.Context) error {
	defer a.checker.Close()
	logger := a.deps.Logger
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serve.GRPC(gctx, a.grpc, a.xdsLis, a.cfg.ShutdownTimeout) })
	g.Go(func() error { return serve.HTTP(gctx, a.http, a.httpLis, a.cfg.ShutdownTimeout) })
	g.Go(func() error { return a.watcher.Run(gctx) })
	g.Go(func() error {
		select {
		case <-a.applied:
		case <-gctx.Done():
			return nil
		}
		logger.Info("gateway control plane serving", "xds", a.xdsLis.Addr().String(), "http", a.httpLis.Addr().String(),
			"node", a.cfg.NodeID, "config", a.cfg.ConfigPath, "version", a.cp.Version())
		if a.deps.Ready != nil {
			a.deps.Ready(a.xdsLis.Addr(), a.httpLis.Addr())
		}
		return nil
	})
	err := g.Wait()
	logger.Info("gateway control plane stopped")
	return err
}
