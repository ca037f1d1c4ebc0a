// Package app wires the credentials service: New builds Postgres → Vault →
// store → service → endpoints → gRPC transport, and the registry feed's
// follower, from a Config; Run serves until its context ends, with the
// background work (reconciler, grace sweeper, lastUsedAt flusher, Vault
// token renewal). cmd/credentials calls both; tests run it in-process.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/sentryagent/agentidp/libs/feed"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/grpcclient"
	"github.com/sentryagent/agentidp/libs/grpcserver"
	"github.com/sentryagent/agentidp/libs/health"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/mtls"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/serve"
	"github.com/sentryagent/agentidp/services/credentials/internal/agents"
	"github.com/sentryagent/agentidp/services/credentials/internal/credential"
	"github.com/sentryagent/agentidp/services/credentials/internal/endpoints"
	pgstore "github.com/sentryagent/agentidp/services/credentials/internal/store/postgres"
	grpctransport "github.com/sentryagent/agentidp/services/credentials/internal/transport/grpc"
	"github.com/sentryagent/agentidp/services/credentials/internal/vault"
	"github.com/sentryagent/agentidp/services/credentials/migrations"
)

// WriterRole is what the service's confined login is made a member of
// (migration 008): rows of every table, no schema changes.
const WriterRole = "agentidp_credentials_writer"

// Deps are what the caller provides: main passes the process's logger and
// a fresh registry; tests pass their own.
type Deps struct {
	Logger  *slog.Logger         // default: discard
	Metrics *prometheus.Registry // default: a new one
}

// App is the credentials service, built and ready to serve.
type App struct {
	cfg     Config
	logger  *slog.Logger
	closers serve.Closers

	kv        *vault.KV // nil: embedded mode
	store     *pgstore.Store
	svc       *credential.Service
	usage     *credential.UsageRecorder
	agentFeed *feed.Follower[*registryv1.AgentEvent]
	checker   *health.Checker
	grpcSrv   *grpc.Server
	grpcLis   net.Listener
	httpSrv   *http.Server
	httpLis   net.Listener
}

// New connects to PostgreSQL (and Vault in Vault mode), applies the
// migrations, builds the service and binds both listeners. ctx bounds this
// start-up only.
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
		MigrateURL: cfg.MigrateDatabaseURL, Migrations: migrations.FS, WriterRole: WriterRole, Table: "credentials",
	}, metrics.NewStore(reg))
	if err != nil {
		return nil, err
	}
	a.closers.Add(pool.Close)

	var secrets credential.Vault // nil: embedded mode (a typed nil *vault.KV would not be a nil interface)
	if cfg.VaultAddr != "" {
		if a.kv, err = vault.Connect(ctx, vault.Config{
			Addr: cfg.VaultAddr, Token: cfg.VaultToken, Mount: cfg.VaultMount,
			Auth:    cfg.Vault.Config(cfg.VaultAddr, cfg.VaultToken, cfg.VaultTimeout, logger),
			Timeout: cfg.VaultTimeout, Registerer: reg,
		}); err != nil {
			return nil, err
		}
		secrets = a.kv
		logger.Info("secrets are kept in Vault", "vault_addr", cfg.VaultAddr, "mount", cfg.VaultMount)
	} else {
		logger.Info("VAULT_ADDR is not set: secrets are kept as one-way hashes in Postgres (embedded mode)")
	}

	grpcMetrics := metrics.NewGRPC(reg)
	registryConn, err := grpcclient.Dial(cfg.RegistryAddr, grpcclient.Config{TLS: mesh,
		Name: "registry", Timeout: cfg.RegistryTimeout, Metrics: grpcMetrics,
		BreakerState: grpcclient.NewBreakerState(reg),
	})
	if err != nil {
		return nil, err
	}
	a.closers.Add(func() { registryConn.Close() })

	// store → service → endpoints → transport
	a.store = pgstore.New(pool)
	a.usage = credential.NewUsageRecorder(a.store, cfg.LastUsedFlushInterval, logger)
	a.svc = credential.New(credential.Config{
		Store:             a.store,
		Directory:         agents.NewRegistry(registryv1.NewRegistryServiceClient(registryConn)),
		Vault:             secrets,
		Cache:             credential.NewDigestCache(cfg.SecretCacheTTL, cfg.SecretCacheSize),
		Usage:             a.usage,
		Metrics:           credential.NewMetrics(reg),
		Logger:            logger,
		VaultTimeout:      cfg.VaultTimeout,
		PendingTimeout:    cfg.PendingTimeout,
		BcryptConcurrency: cfg.BcryptConcurrency,
	})
	set := endpoints.New(a.svc)
	grpcSrv, healthSrv := grpcserver.New(grpcserver.Config{TLS: mesh, Allow: mtls.Mesh[mtls.Credentials], Reflection: cfg.GRPCReflection,
		Logger: logger, Metrics: grpcMetrics,
		// A lost database is a 503 the client may retry, not a 500.
		Unavailable: postgres.Unavailable})
	credentialsv1.RegisterCredentialsServiceServer(grpcSrv, grpctransport.NewServer(set))
	credentialsv1.RegisterClientAuthServiceServer(grpcSrv, grpctransport.NewAuthServer(set))
	credentialsv1.RegisterCredentialEventsServiceServer(grpcSrv, grpctransport.NewEventsServer(a.store))
	a.grpcSrv = grpcSrv

	// The registry's change feed: projection of agents, revocation on decommission.
	a.agentFeed = feed.New(feed.AgentEvents(registryv1.NewAgentEventsServiceClient(registryConn)),
		postgres.FeedCursor{Pool: pool, Consumer: agents.ConsumerName}, feed.Config{Name: "agents", Logger: logger})

	checks := map[string]health.Check{"postgres": pool.Ping}
	if a.kv != nil {
		checks["vault"] = a.kv.Ping
	}
	a.checker = health.NewChecker(health.Config{GRPC: healthSrv, Logger: logger, Checks: checks,
		// Verification and revocation work without the registry (the agents
		// projection); only creating a credential needs it. Report, don't eject.
		Informational: map[string]health.Check{"registry": func(ctx context.Context) error {
			_, err := healthpb.NewHealthClient(registryConn).Check(ctx, &healthpb.HealthCheckRequest{})
			return err
		}},
	})
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

// Run serves until ctx ends, then drains both servers, flushes the last
// lastUsedAt updates and closes the pool and the registry connection.
// Call it once.
func (a *App) Run(ctx context.Context) error {
	defer a.closers.Close()
	a.logger.Info("credentials started", "grpc", a.grpcLis.Addr().String(), "http", a.httpLis.Addr().String(),
		"vault", a.kv != nil)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.checker.Run(ctx) })
	g.Go(func() error { return serve.GRPC(ctx, a.grpcSrv, a.grpcLis, a.cfg.ShutdownTimeout) })
	g.Go(func() error { return serve.HTTP(ctx, a.httpSrv, a.httpLis, a.cfg.ShutdownTimeout) })
	g.Go(func() error {
		return a.agentFeed.Run(ctx, feed.Each(agents.Handler(a.store, a.svc.Revoked, a.logger)))
	})
	g.Go(func() error { return a.store.Listen(ctx) }) // wakes WatchCredentialEvents streams
	g.Go(func() error { return a.svc.RunReconciler(ctx, a.cfg.ReconcileInterval) })
	g.Go(func() error { return credential.RunGraceSweeper(ctx, a.store, a.cfg.GraceSweepInterval, a.logger) })
	g.Go(func() error { return a.usage.Run(ctx) }) // flushes once more on shutdown
	if a.kv != nil {
		g.Go(func() error { return a.kv.KeepTokenAlive(ctx) })
	}
	err := g.Wait()
	// Uses recorded by RPCs that drained after the flusher's last pass.
	fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ferr := a.usage.Flush(fctx); ferr != nil {
		a.logger.Warn("final lastUsedAt flush failed", "error", ferr)
	}
	a.logger.Info("credentials stopped")
	return err
}
