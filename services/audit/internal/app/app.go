// Package app wires the audit service: New builds store → service →
// endpoints → gRPC transport and its sources (the registry's and the
// credentials service's change feeds, the Redis stream) from a Config; Run
// serves and ingests until its context ends, with the partition
// maintenance loop. cmd/audit calls both; tests run it in-process.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sentryagent/agentidp/libs/vaultclient"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	auditv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/audit/v1"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/grpcclient"
	"github.com/sentryagent/agentidp/libs/grpcserver"
	"github.com/sentryagent/agentidp/libs/health"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/mtls"
	"github.com/sentryagent/agentidp/libs/postgres"
	"github.com/sentryagent/agentidp/libs/redisclient"
	"github.com/sentryagent/agentidp/libs/serve"
	"github.com/sentryagent/agentidp/services/audit/internal/audit"
	"github.com/sentryagent/agentidp/services/audit/internal/checkpoint"
	"github.com/sentryagent/agentidp/services/audit/internal/endpoints"
	"github.com/sentryagent/agentidp/services/audit/internal/ingest"
	"github.com/sentryagent/agentidp/services/audit/internal/retention"
	pgstore "github.com/sentryagent/agentidp/services/audit/internal/store/postgres"
	grpctransport "github.com/sentryagent/agentidp/services/audit/internal/transport/grpc"
	"github.com/sentryagent/agentidp/services/audit/migrations"
)

// Deps are what the caller provides: main passes the process's logger and
// a fresh registry; tests pass their own.
type Deps struct {
	Logger  *slog.Logger         // default: discard
	Metrics *prometheus.Registry // default: a new one
}

// App is the audit service, built and ready to serve.
type App struct {
	cfg     Config
	logger  *slog.Logger
	closers serve.Closers

	// sources: each follows one place other services leave events in.
	sources []func(ctx context.Context) error
	maint   *retention.Maintainer
	cp      *checkpoint.Checkpointer    // nil: checkpoints off
	renew   func(context.Context) error // keeps the transit signer's Vault token alive (nil: none)
	checker *health.Checker
	grpcSrv *grpc.Server
	grpcLis net.Listener
	httpSrv *http.Server
	httpLis net.Listener
}

// New migrates the database as its owner, connects as the restricted role
// and to Redis, creates the current partitions, builds the service and its
// sources and binds both listeners. ctx bounds this start-up only.
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

	// Migrate as the database's owner, then work as the restricted role:
	// with MIGRATE_DATABASE_URL, from a login that cannot become the owner.
	confined := cfg.MigrateDatabaseURL != ""
	if err := migrate(ctx, cfg); err != nil {
		return nil, err
	}
	roleURL, err := pgstore.RoleURL(cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	pool, err := postgres.Open(ctx, postgres.Config{URL: roleURL, MaxConns: cfg.DBMaxConns}, metrics.NewStore(reg))
	if err != nil {
		return nil, err
	}
	a.closers.Add(pool.Close)
	if confined {
		// Fail closed: a login that can reach the owner could disable the
		// trigger and rewrite the log (docs/audit.md, "Append-only").
		if err := postgres.CheckConfined(ctx, pool, "audit_events"); err != nil {
			return nil, err
		}
	} else {
		logger.Warn("MIGRATE_DATABASE_URL is not set: DATABASE_URL's user is the owner, and a session can leave the writer role " +
			"(SET ROLE NONE); give the service a login that is not the owner (docs/audit.md, \"Append-only\")")
	}
	rdb, err := redisclient.Open(ctx, cfg.RedisURL, metrics.NewStore(reg))
	if err != nil {
		return nil, err
	}
	a.closers.Add(func() { rdb.Close() })

	// store → service → endpoints → transport
	store := pgstore.New(pool, cfg.PartitionsAhead)
	// The partitions for now must exist before the first append.
	if _, err := store.EnsurePartitions(ctx, time.Now(), cfg.PartitionsAhead); err != nil {
		return nil, err
	}
	if cfg.RetentionDays > 0 {
		floor, err := store.RetentionFloor(ctx)
		if err != nil {
			return nil, err
		}
		if cfg.RetentionDays < floor {
			return nil, fmt.Errorf("RETENTION_DAYS: %d is below the database's floor of %d days (audit_retention_policy.min_days, which only the owner changes)",
				cfg.RetentionDays, floor)
		}
	}
	m := audit.NewMetrics(reg)
	svcCfg := audit.Config{Store: store, Metrics: m, CheckpointStore: store}
	signer, vc, err := NewSigner(ctx, cfg.Signer(), logger)
	if err != nil {
		return nil, err
	}
	if vc != nil {
		a.renew = vc.KeepAlive
	}
	if signer != nil {
		var sink *checkpoint.FileSink
		if cfg.CheckpointDir != "" {
			if sink, err = checkpoint.NewFileSink(cfg.CheckpointDir); err != nil {
				return nil, err
			}
		}
		a.cp = checkpoint.New(checkpoint.Config{Store: store, Signer: signer, Sink: sink,
			Events: cfg.CheckpointEvents, Interval: cfg.CheckpointInterval, Logger: logger, Registerer: reg})
		svcCfg.Checkpoints = checkpoint.Source{Store: store, Sink: sink, Signer: signer}
	} else {
		logger.Warn("audit checkpoints are off (set AUDIT_CHECKPOINT_TRANSIT_KEY or AUDIT_CHECKPOINT_KEY_FILE): " +
			"the hash chain alone does not catch a rewrite by someone who can write the database")
	}
	svc := audit.NewService(svcCfg)
	set := endpoints.New(svc)
	grpcMetrics := metrics.NewGRPC(reg)
	grpcSrv, healthSrv := grpcserver.New(grpcserver.Config{TLS: mesh, Allow: mtls.Mesh[mtls.Audit], Reflection: cfg.GRPCReflection,
		Logger: logger, Metrics: grpcMetrics, MaxRecvMsgSize: 8 << 20,
		// A lost database is a 503 the client may retry, not a 500.
		Unavailable: postgres.Unavailable})
	auditv1.RegisterAuditServiceServer(grpcSrv, grpctransport.NewServer(set))
	auditv1.RegisterAuditIngestServiceServer(grpcSrv, grpctransport.NewIngestServer(set))
	a.grpcSrv = grpcSrv

	a.maint = retention.New(retention.Config{
		Store: store, Retention: time.Duration(cfg.RetentionDays) * 24 * time.Hour,
		Every: cfg.MaintenanceInterval, Ahead: cfg.PartitionsAhead, Logger: logger,
		Dropped: func(d []pgstore.Dropped) { m.Ingested.WithLabelValues("retention").Add(float64(len(d))) },
	})

	// Sources: the two change feeds (unless turned off) and the stream.
	sink := ingest.NewSink(svc, logger, reg)
	if cfg.RegistryAddr != Disabled {
		conn, err := grpcclient.Dial(cfg.RegistryAddr, grpcclient.Config{TLS: mesh, Name: "registry", Metrics: grpcMetrics})
		if err != nil {
			return nil, err
		}
		a.closers.Add(func() { conn.Close() })
		client := registryv1.NewAgentEventsServiceClient(conn)
		cursor := postgres.FeedCursor{Pool: pool, Consumer: ingest.RegistryFeed}
		a.sources = append(a.sources, func(ctx context.Context) error { return sink.FollowRegistry(ctx, client, cursor) })
	}
	if cfg.CredentialsAddr != Disabled {
		conn, err := grpcclient.Dial(cfg.CredentialsAddr, grpcclient.Config{TLS: mesh, Name: "credentials", Metrics: grpcMetrics})
		if err != nil {
			return nil, err
		}
		a.closers.Add(func() { conn.Close() })
		client := credentialsv1.NewCredentialEventsServiceClient(conn)
		cursor := postgres.FeedCursor{Pool: pool, Consumer: ingest.CredentialsFeed}
		a.sources = append(a.sources, func(ctx context.Context) error { return sink.FollowCredentials(ctx, client, cursor) })
	}
	stream := ingest.StreamConfig{Stream: cfg.Stream, Group: cfg.StreamGroup, Consumer: streamConsumer(cfg),
		ClaimIdle: cfg.StreamClaimIdle, Linger: cfg.StreamLinger, Registerer: reg}
	a.sources = append(a.sources, func(ctx context.Context) error { return sink.ConsumeStream(ctx, rdb, stream) })

	a.checker = health.NewChecker(health.Config{GRPC: healthSrv, Logger: logger, Checks: map[string]health.Check{
		"postgres": pool.Ping,
		"redis":    func(ctx context.Context) error { return rdb.Ping(ctx).Err() },
	}})
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

// Run serves and ingests until ctx ends, then drains both servers and
// closes the pool and the connections. Call it once.
func (a *App) Run(ctx context.Context) error {
	defer a.closers.Close()
	a.logger.Info("audit started", "grpc", a.grpcLis.Addr().String(), "http", a.httpLis.Addr().String())
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.checker.Run(ctx) })
	g.Go(func() error { return a.maint.Run(ctx) })
	if a.cp != nil {
		g.Go(func() error { return a.cp.Run(ctx) })
	}
	if a.renew != nil {
		g.Go(func() error { return a.renew(ctx) })
	}
	g.Go(func() error { return serve.GRPC(ctx, a.grpcSrv, a.grpcLis, a.cfg.ShutdownTimeout) })
	g.Go(func() error { return serve.HTTP(ctx, a.httpSrv, a.httpLis, a.cfg.ShutdownTimeout) })
	for _, source := range a.sources {
		g.Go(func() error { return source(ctx) })
	}
	err := g.Wait()
	a.logger.Info("audit stopped")
	return err
}

// migrate applies the migrations over a short-lived pool of the owner
// (MIGRATE_DATABASE_URL, else DATABASE_URL) and, when the service logs in
// as a role of its own, makes that login a member of the writer role.
func migrate(ctx context.Context, cfg Config) error {
	if cfg.MigrateDatabaseURL != "" {
		return postgres.MigrateFor(ctx, cfg.MigrateDatabaseURL, cfg.DatabaseURL, migrations.FS, pgstore.Role)
	}
	admin, err := postgres.Open(ctx, postgres.Config{URL: cfg.DatabaseURL, MaxConns: 2}, nil)
	if err != nil {
		return err
	}
	defer admin.Close()
	return postgres.Migrate(ctx, admin, migrations.FS)
}

// NewSigner returns the checkpoint signer the configuration names, or nil,
// and for a transit signer its Vault client (libs/vaultclient: logged in,
// root tokens refused unless allowed; the caller runs its KeepAlive).
func NewSigner(ctx context.Context, cfg SignerConfig, logger *slog.Logger) (audit.Signer, *vaultclient.Client, error) {
	switch {
	case cfg.CheckpointTransitKey != "":
		vc, err := vaultclient.New(ctx, vaultclient.Config{Addr: cfg.VaultAddr, Token: cfg.VaultToken,
			Timeout: 10 * time.Second, AllowRootToken: cfg.VaultAllowRootToken, Logger: logger})
		if err != nil {
			return nil, nil, fmt.Errorf("AUDIT_CHECKPOINT_VAULT_ADDR, AUDIT_CHECKPOINT_VAULT_TOKEN: %w", err)
		}
		s, err := checkpoint.NewTransitSigner(ctx, vc.API(), cfg.CheckpointTransitMount, cfg.CheckpointTransitKey)
		return s, vc, err
	case cfg.CheckpointKeyFile != "":
		s, err := checkpoint.LoadFileSigner(cfg.CheckpointKeyFile, true)
		return s, nil, err
	}
	return nil, nil, nil
}

// streamConsumer is this instance's name in the stream's consumer group:
// AUDIT_STREAM_CONSUMER, else the host name.
func streamConsumer(cfg Config) string {
	if cfg.StreamConsumer != "" {
		return cfg.StreamConsumer
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		return host
	}
	return "audit"
}
