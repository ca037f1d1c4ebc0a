// Command credentials serves agents' client credentials:
// agentidp.credentials.v1.CredentialsService, ClientAuthService and
// CredentialEventsService (its change feed) over gRPC, plus /metrics,
// /healthz and /readyz over HTTP. Secrets live in Vault
// KV v2 when VAULT_ADDR is set, else only as one-way hashes in Postgres.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/sentryagent/agentidp/libs/config"
	"github.com/sentryagent/agentidp/libs/feed"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/grpcclient"
	"github.com/sentryagent/agentidp/libs/grpcserver"
	"github.com/sentryagent/agentidp/libs/health"
	"github.com/sentryagent/agentidp/libs/logging"
	"github.com/sentryagent/agentidp/libs/metrics"
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

// Config is read from the environment.
type Config struct {
	config.Common
	// GRPCAddr serves CredentialsService, ClientAuthService and grpc.health.v1.
	GRPCAddr string `env:"GRPC_ADDR" envDefault:"127.0.0.1:9102"`
	// HTTPAddr serves /metrics, /healthz and /readyz.
	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:9202"`
	// DatabaseURL is the service's own PostgreSQL database.
	DatabaseURL string `env:"DATABASE_URL,required"`
	DBMaxConns  int32  `env:"DB_MAX_CONNS" envDefault:"0"`
	// RegistryAddr is the registry's gRPC address (GetAgent, change feed).
	RegistryAddr    string        `env:"REGISTRY_ADDR" envDefault:"127.0.0.1:9101"`
	RegistryTimeout time.Duration `env:"REGISTRY_TIMEOUT" envDefault:"3s"`
	// VaultAddr selects Vault mode; empty keeps secrets as hashes in Postgres.
	VaultAddr    string        `env:"VAULT_ADDR"`
	VaultToken   string        `env:"VAULT_TOKEN"`
	VaultMount   string        `env:"VAULT_MOUNT" envDefault:"secret"`
	VaultTimeout time.Duration `env:"VAULT_TIMEOUT" envDefault:"5s"`
	// SecretCacheTTL bounds how long a digest of a Vault secret stays in
	// memory (0 disables the cache); SecretCacheSize bounds how many.
	SecretCacheTTL  time.Duration `env:"SECRET_CACHE_TTL" envDefault:"5m"`
	SecretCacheSize int           `env:"SECRET_CACHE_SIZE" envDefault:"100000"`
	// PendingTimeout: age after which a half-written credential is undone.
	PendingTimeout    time.Duration `env:"PENDING_TIMEOUT" envDefault:"30s"`
	ReconcileInterval time.Duration `env:"RECONCILE_INTERVAL" envDefault:"30s"`
	// GraceSweepInterval: how soon after a grace period ends its
	// grace_ended event is published on the change feed.
	GraceSweepInterval time.Duration `env:"GRACE_SWEEP_INTERVAL" envDefault:"1s"`
	// LastUsedFlushInterval batches lastUsedAt writes.
	LastUsedFlushInterval time.Duration `env:"LAST_USED_FLUSH_INTERVAL" envDefault:"5s"`
	// BcryptConcurrency bounds the bcrypt comparisons of legacy secrets
	// running at once (0: half the CPUs, at least 1).
	BcryptConcurrency int `env:"BCRYPT_CONCURRENCY" envDefault:"0"`
}

// Validate checks what parsing cannot.
func (c Config) Validate() error {
	if err := c.Common.Validate(); err != nil {
		return err
	}
	for _, a := range []struct{ name, addr string }{
		{"GRPC_ADDR", c.GRPCAddr}, {"HTTP_ADDR", c.HTTPAddr}, {"REGISTRY_ADDR", c.RegistryAddr},
	} {
		if err := config.CheckAddr(a.name, a.addr); err != nil {
			return err
		}
	}
	switch {
	case c.DBMaxConns < 0:
		return errors.New("DB_MAX_CONNS: must not be negative")
	case c.VaultAddr != "" && c.VaultToken == "":
		return errors.New("VAULT_TOKEN: required when VAULT_ADDR is set")
	case c.VaultAddr == "" && c.VaultToken != "":
		return errors.New("VAULT_ADDR: VAULT_TOKEN is set but VAULT_ADDR is not (set both for Vault mode, neither for the embedded mode)")
	case c.VaultMount == "":
		return errors.New("VAULT_MOUNT: must not be empty")
	case c.VaultTimeout <= 0:
		return errors.New("VAULT_TIMEOUT: must be positive")
	case c.RegistryTimeout <= 0:
		return errors.New("REGISTRY_TIMEOUT: must be positive")
	case c.SecretCacheTTL < 0 || c.SecretCacheSize < 0:
		return errors.New("SECRET_CACHE_TTL, SECRET_CACHE_SIZE: must not be negative")
	case c.PendingTimeout < 3*c.VaultTimeout:
		return fmt.Errorf("PENDING_TIMEOUT: must be at least 3×VAULT_TIMEOUT (%s), so that no write is still in flight when its row is undone", 3*c.VaultTimeout)
	case c.ReconcileInterval <= 0 || c.LastUsedFlushInterval <= 0 || c.GraceSweepInterval <= 0:
		return errors.New("RECONCILE_INTERVAL, LAST_USED_FLUSH_INTERVAL, GRACE_SWEEP_INTERVAL: must be positive")
	case c.BcryptConcurrency < 0:
		return errors.New("BCRYPT_CONCURRENCY: must not be negative")
	}
	return nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "legacy-secrets" {
		// The operator command (docs/credentials.md), not the server.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := legacySecrets(ctx, os.Args[2:], os.Stdout)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "credentials legacy-secrets:", err)
			os.Exit(2)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "credentials:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.Load[Config]()
	if err != nil {
		return err
	}
	logger := logging.New("credentials", cfg.LogLevel, cfg.LogFormat)
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

	var kv *vault.KV // nil: embedded mode
	if cfg.VaultAddr != "" {
		if kv, err = vault.Connect(ctx, vault.Config{
			Addr: cfg.VaultAddr, Token: cfg.VaultToken, Mount: cfg.VaultMount,
			Timeout: cfg.VaultTimeout, Registerer: reg,
		}); err != nil {
			return err
		}
		logger.Info("secrets are kept in Vault", "vault_addr", cfg.VaultAddr, "mount", cfg.VaultMount)
	} else {
		logger.Info("VAULT_ADDR is not set: secrets are kept as one-way hashes in Postgres (embedded mode)")
	}

	grpcMetrics := metrics.NewGRPC(reg)
	registryConn, err := grpcclient.Dial(cfg.RegistryAddr, grpcclient.Config{
		Name: "registry", Timeout: cfg.RegistryTimeout, Metrics: grpcMetrics,
		BreakerState: grpcclient.NewBreakerState(reg),
	})
	if err != nil {
		return err
	}
	defer registryConn.Close()

	// store → service → endpoints → transport
	store := pgstore.New(pool)
	usage := credential.NewUsageRecorder(store, cfg.LastUsedFlushInterval, logger)
	svcCfg := credential.Config{
		Store:          store,
		Directory:      agents.NewRegistry(registryv1.NewRegistryServiceClient(registryConn)),
		Cache:          credential.NewDigestCache(cfg.SecretCacheTTL, cfg.SecretCacheSize),
		Usage:          usage,
		Metrics:        credential.NewMetrics(reg),
		Logger:         logger,
		VaultTimeout:   cfg.VaultTimeout,
		PendingTimeout: cfg.PendingTimeout,
	}
	if kv != nil {
		svcCfg.Vault = kv // a typed nil would not be a nil interface
	}
	svcCfg.BcryptConcurrency = cfg.BcryptConcurrency
	svc := credential.New(svcCfg)
	set := endpoints.New(svc)
	grpcSrv, healthSrv := grpcserver.New(grpcserver.Config{Logger: logger, Metrics: grpcMetrics,
		// A lost database is a 503 the client may retry, not a 500.
		Unavailable: postgres.Unavailable})
	credentialsv1.RegisterCredentialsServiceServer(grpcSrv, grpctransport.NewServer(set))
	credentialsv1.RegisterClientAuthServiceServer(grpcSrv, grpctransport.NewAuthServer(set))
	credentialsv1.RegisterCredentialEventsServiceServer(grpcSrv, grpctransport.NewEventsServer(store))

	checker := health.NewChecker(healthSrv, logger)
	checker.Add("postgres", pool.Ping)
	// Verification and revocation work without the registry (the agents
	// projection); only creating a credential needs it. Report, don't eject.
	checker.AddInformational("registry", func(ctx context.Context) error {
		_, err := healthpb.NewHealthClient(registryConn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	})
	if kv != nil {
		checker.Add("vault", kv.Ping)
	}
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
	logger.Info("credentials started", "grpc", grpcLis.Addr().String(), "http", httpLis.Addr().String(),
		"vault", kv != nil)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return checker.Run(ctx) })
	g.Go(func() error { return serve.GRPC(ctx, grpcSrv, grpcLis, cfg.ShutdownTimeout) })
	g.Go(func() error { return serve.HTTP(ctx, httpSrv, httpLis, cfg.ShutdownTimeout) })
	// The registry's change feed: projection of agents, revocation on decommission.
	agentFeed := feed.New(feed.AgentEvents(registryv1.NewAgentEventsServiceClient(registryConn)),
		postgres.FeedCursor{Pool: pool, Consumer: agents.ConsumerName}, feed.Config{Name: "agents", Logger: logger})
	g.Go(func() error { return agentFeed.Run(ctx, feed.Each(agents.Handler(store, svc.Revoked, logger))) })
	g.Go(func() error { return store.Listen(ctx) }) // wakes WatchCredentialEvents streams
	g.Go(func() error { return svc.RunReconciler(ctx, cfg.ReconcileInterval) })
	g.Go(func() error { return credential.RunGraceSweeper(ctx, store, cfg.GraceSweepInterval, logger) })
	g.Go(func() error { return usage.Run(ctx) }) // flushes once more on shutdown
	if kv != nil {
		g.Go(func() error { return kv.KeepTokenAlive(ctx, logger) })
	}
	err = g.Wait()
	// Uses recorded by RPCs that drained after the flusher's last pass.
	fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ferr := usage.Flush(fctx); ferr != nil {
		logger.Warn("final lastUsedAt flush failed", "error", ferr)
	}
	logger.Info("credentials stopped")
	return err
}
