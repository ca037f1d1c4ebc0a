// Package app wires the registry: New builds store → service → endpoints
// → gRPC transport from a Config, Run serves until its context ends.
// cmd/registry calls both; tests run it in-process.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/grpcserver"
	"github.com/sentryagent/agentidp/libs/health"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/mtls"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/serve"
	"github.com/sentryagent/agentidp/services/registry/internal/agent"
	"github.com/sentryagent/agentidp/services/registry/internal/endpoints"
	pgstore "github.com/sentryagent/agentidp/services/registry/internal/store/postgres"
	grpctransport "github.com/sentryagent/agentidp/services/registry/internal/transport/grpc"
	"github.com/sentryagent/agentidp/services/registry/migrations"
)

// WriterRole is what the service's confined login is made a member of
// (migration 006): rows of every table, no schema changes.
const WriterRole = "agentidp_registry_writer"

// Deps are what the caller provides: main passes the process's logger and
// a fresh registry; tests pass their own.
type Deps struct {
	Logger  *slog.Logger         // default: discard
	Metrics *prometheus.Registry // default: a new one
}

// App is the registry, built and ready to serve.
type App struct {
	cfg     Config
	logger  *slog.Logger
	closers serve.Closers

	store   *pgstore.Store
	checker *health.Checker
	grpcSrv *grpc.Server
	grpcLis net.Listener
	httpSrv *http.Server
	httpLis net.Listener
}

// New connects to PostgreSQL, applies the migrations, builds the service
// and binds both listeners. ctx bounds this start-up only.
func New(ctx context.Context, cfg Config, deps Deps) (_ *App, err error) {
	logger, reg := deps.Logger, deps.Metrics
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	a := &App{cfg: cfg, logger: logger}
	defer func() {
		if err != nil {
			a.closers.Close()
		}
	}()

	// The mesh identity: every gRPC server and client below uses it.
	mesh, err := cfg.Mesh.Load(logger)
	if err != nil {
		return nil, err
	}

	// The owner migrates (MIGRATE_DATABASE_URL); the service works as a
	// confined login (docs/architecture.md, "Database roles").
	pool, err := postgres.OpenService(ctx, postgres.ServiceDatabase{
		Config:     postgres.Config{URL: cfg.DatabaseURL, MaxConns: cfg.DBMaxConns},
		MigrateURL: cfg.MigrateDatabaseURL, Migrations: migrations.FS, WriterRole: WriterRole, Table: "agents",
	}, metrics.NewStore(reg))
	if err != nil {
		return nil, err
	}
	a.closers.Add(pool.Close)

	// store → service → endpoints → transport
	a.store = pgstore.New(pool)
	svc := agent.NewService(agent.Config{
		Store: a.store,
		Registered: promauto.With(reg).NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "agents_registered_total",
			Help: "Agents registered (idempotent replays of a create are not counted).",
		}),
	})
	grpcSrv, healthSrv := grpcserver.New(grpcserver.Config{TLS: mesh, Allow: mtls.Mesh[mtls.Registry], Reflection: cfg.GRPCReflection,
		Logger: logger, Metrics: metrics.NewGRPC(reg),
		// A lost database is a 503 the client may retry, not a 500.
		Unavailable: postgres.Unavailable})
	registryv1.RegisterRegistryServiceServer(grpcSrv, grpctransport.NewServer(endpoints.New(svc)))
	registryv1.RegisterAgentEventsServiceServer(grpcSrv, grpctransport.NewEventsServer(a.store))
	a.grpcSrv = grpcSrv

	a.checker = health.NewChecker(health.Config{GRPC: healthSrv, Logger: logger,
		Checks: map[string]health.Check{"postgres": pool.Ping}})
	a.httpSrv = serve.NewHTTPServer(metrics.NewHTTP(reg).Middleware(serve.AdminMux(reg, a.checker, serve.WithProfiling(cfg.Pprof))), logger)

	if a.grpcLis, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		return nil, fmt.Errorf("GRPC_ADDR: %w", err)
	}
	a.closers.Add(func() { a.grpcLis.Close() })
	if a.httpLis, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("HTTP_ADDR: %w", err)
	}
	a.closers.Add(func() { a.httpLis.Close() })
	return a, nil
}

// Addrs are the addresses the gRPC and HTTP listeners are bound to (a port
// of 0 in the Config is chosen by the system).
func (a *App) Addrs() (grpcAddr, httpAddr net.Addr) { return a.grpcLis.Addr(), a.httpLis.Addr() }

// Run serves until ctx ends, then drains both servers and closes the pool.
// Call it once.
func (a *App) Run(ctx context.Context) error {
	defer a.closers.Close()
	a.logger.Info("registry started", "grpc", a.grpcLis.Addr().String(), "http", a.httpLis.Addr().String())
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.checker.Run(ctx) })
	g.Go(func() error { return a.store.Listen(ctx) }) // wakes WatchAgentEvents streams
	g.Go(func() error { return serve.GRPC(ctx, a.grpcSrv, a.grpcLis, a.cfg.ShutdownTimeout) })
	g.Go(func() error { return serve.HTTP(ctx, a.httpSrv, a.httpLis, a.cfg.ShutdownTimeout) })
	err := g.Wait()
	a.logger.Info("registry stopped")
	return err
}
