// Command registry serves the agent registry: agentidp.registry.v1.RegistryService
// over gRPC, plus /metrics, /healthz and /readyz over HTTP.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/sync/errgroup"

	"github.com/sentryagent/agentidp/libs/config"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/grpcserver"
	"github.com/sentryagent/agentidp/libs/health"
	"github.com/sentryagent/agentidp/libs/logging"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/serve"
	"github.com/sentryagent/agentidp/services/registry/internal/agent"
	"github.com/sentryagent/agentidp/services/registry/internal/endpoints"
	pgstore "github.com/sentryagent/agentidp/services/registry/internal/store/postgres"
	grpctransport "github.com/sentryagent/agentidp/services/registry/internal/transport/grpc"
	"github.com/sentryagent/agentidp/services/registry/migrations"
)

// Config is read from the environment.
type Config struct {
	config.Common
	// GRPCAddr serves RegistryService and grpc.health.v1.
	GRPCAddr string `env:"GRPC_ADDR" envDefault:"127.0.0.1:9101"`
	// HTTPAddr serves /metrics, /healthz and /readyz.
	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:9201"`
	// DatabaseURL is the registry's own PostgreSQL database.
	DatabaseURL string `env:"DATABASE_URL,required"`
	DBMaxConns  int32  `env:"DB_MAX_CONNS" envDefault:"0"`
}

// Validate checks what parsing cannot.
func (c Config) Validate() error {
	if err := c.Common.Validate(); err != nil {
		return err
	}
	if err := config.CheckAddr("GRPC_ADDR", c.GRPCAddr); err != nil {
		return err
	}
	if err := config.CheckAddr("HTTP_ADDR", c.HTTPAddr); err != nil {
		return err
	}
	if c.DBMaxConns < 0 {
		return fmt.Errorf("DB_MAX_CONNS: must not be negative")
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.Load[Config]()
	if err != nil {
		return err
	}
	logger := logging.New("registry", cfg.LogLevel, cfg.LogFormat)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	reg := metrics.NewRegistry()
	pool, err := postgres.Open(ctx, postgres.Config{URL: cfg.DatabaseURL, MaxConns: cfg.DBMaxConns}, metrics.NewStore(reg))
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := postgres.Migrate(ctx, pool, migrations.FS); err != nil {
		return err
	}

	// store → service → endpoints → transport
	store := pgstore.New(pool)
	svc := agent.NewService(agent.Config{
		Store: store,
		Registered: promauto.With(reg).NewCounter(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "agents_registered_total",
			Help: "Agents registered (idempotent replays of a create are not counted).",
		}),
	})
	grpcSrv, healthSrv := grpcserver.New(grpcserver.Config{Logger: logger, Metrics: metrics.NewGRPC(reg),
		// A lost database is a 503 the client may retry, not a 500.
		Unavailable: postgres.Unavailable})
	registryv1.RegisterRegistryServiceServer(grpcSrv, grpctransport.NewServer(endpoints.New(svc)))
	registryv1.RegisterAgentEventsServiceServer(grpcSrv, grpctransport.NewEventsServer(store))

	checker := health.NewChecker(healthSrv, logger)
	checker.Add("postgres", pool.Ping)
	httpSrv := serve.NewHTTPServer(metrics.NewHTTP(reg).Middleware(serve.AdminMux(reg, checker, serve.WithProfiling(cfg.Pprof))), logger)

	grpcLis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("GRPC_ADDR: %w", err)
	}
	httpLis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	logger.Info("registry started", "grpc", grpcLis.Addr().String(), "http", httpLis.Addr().String())

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return checker.Run(ctx) })
	g.Go(func() error { return store.Listen(ctx) })
	g.Go(func() error { return serve.GRPC(ctx, grpcSrv, grpcLis, cfg.ShutdownTimeout) })
	g.Go(func() error { return serve.HTTP(ctx, httpSrv, httpLis, cfg.ShutdownTimeout) })
	err = g.Wait()
	logger.Info("registry stopped")
	return err
}
