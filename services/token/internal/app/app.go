// Package app wires the token service: configuration, stores, service,
// endpoints and transports, run until the context ends. cmd/token calls
// it; tests run it in-process too (benchmarks, profiles).
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/sentryagent/agentidp/libs/auditlog"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/grpcclient"
	"github.com/sentryagent/agentidp/libs/health"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/redisclient"
	"github.com/sentryagent/agentidp/libs/registryclient"
	"github.com/sentryagent/agentidp/libs/serve"
	"github.com/sentryagent/agentidp/services/token/internal/accesstoken"
	"github.com/sentryagent/agentidp/services/token/internal/agents"
	"github.com/sentryagent/agentidp/services/token/internal/authcache"
	"github.com/sentryagent/agentidp/services/token/internal/clientauth"
	"github.com/sentryagent/agentidp/services/token/internal/endpoints"
	"github.com/sentryagent/agentidp/services/token/internal/feed"
	"github.com/sentryagent/agentidp/services/token/internal/keys"
	"github.com/sentryagent/agentidp/services/token/internal/keys/filestore"
	"github.com/sentryagent/agentidp/services/token/internal/keys/vaultstore"
	"github.com/sentryagent/agentidp/services/token/internal/oauth"
	redisstore "github.com/sentryagent/agentidp/services/token/internal/store/redis"
	httptransport "github.com/sentryagent/agentidp/services/token/internal/transport/http"
)

// Deps are what the caller provides: main passes the process's logger and
// a fresh registry; tests pass their own and learn the listen addresses.
type Deps struct {
	Logger  *slog.Logger
	Metrics *prometheus.Registry
	// Ready, if set, is called once both listeners accept connections.
	Ready func(public, admin net.Addr)
	// Now is the clock of the key manager and tokens (tests); default time.Now.
	Now func() time.Time
}

// Run wires config → stores → service → endpoints → transport and serves
// until ctx ends.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	logger, reg := deps.Logger, deps.Metrics

	rdb, err := redisclient.Open(ctx, cfg.RedisURL, metrics.NewStore(reg))
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	defer rdb.Close()
	store := redisstore.New(rdb)

	// Signing keys: loaded (and created on first start) before serving.
	keyStore, err := openKeyStore(&cfg)
	if err != nil {
		return err
	}
	cacheKey, _ := cfg.cacheKey()
	mgr := keys.NewManager(keys.ManagerConfig{
		Store: keyStore,
		Policy: keys.Policy{Alg: cfg.SigningAlg, Interval: cfg.KeyRotationInterval,
			Prepublish: cfg.KeyPrepublish, Retention: cfg.retention()},
		Reload: cfg.KeyReloadInterval, CacheKey: cacheKey, Logger: logger, Registerer: reg, Now: deps.Now,
	})
	if err := mgr.Sync(ctx); err != nil {
		return err
	}

	grpcMetrics := metrics.NewGRPC(reg)
	breakers := grpcclient.NewBreakerState(reg)
	credConn, err := grpcclient.Dial(cfg.CredentialsAddr, grpcclient.Config{
		Name: "credentials", Timeout: cfg.CredentialsTimeout, Metrics: grpcMetrics, BreakerState: breakers,
	})
	if err != nil {
		return err
	}
	defer credConn.Close()
	regConn, err := grpcclient.Dial(cfg.RegistryAddr, grpcclient.Config{
		Name: "registry", Timeout: cfg.RegistryTimeout, Metrics: grpcMetrics, BreakerState: breakers,
	})
	if err != nil {
		return err
	}
	defer regConn.Close()

	// store → service → endpoints → transport
	var rate *authcache.Rate
	if cfg.RateLimitPerSecond > 0 {
		rate = &authcache.Rate{PerSecond: cfg.RateLimitPerSecond, Burst: cfg.RateLimitBurst}
	}
	followers := feed.NewFollowers(feed.FollowersConfig{
		AgentFeed:        registryv1.NewAgentEventsServiceClient(regConn),
		AgentCursor:      store.Cursor("agents"),
		CredentialFeed:   credentialsv1.NewCredentialEventsServiceClient(credConn),
		CredentialCursor: store.Cursor("credentials"),
		Logger:           logger,
		Registerer:       reg,
	})
	auth := clientauth.New(clientauth.Config{
		Cache:    store,
		Verifier: clientauth.GRPCVerifier{Client: credentialsv1.NewClientAuthServiceClient(credConn)},
		Feeds:    followers,
		CacheKey: mgr.Set().CacheKey(),
		Rate:     rate,
		Failures: cfg.failures(),
		FreshFor: cfg.CacheTTL, StaleFor: cfg.CacheStaleIfError, LocalTTL: cfg.LocalCacheTTL,
		UnknownTTL: cfg.UnknownClientCacheTTL, UnknownSize: cfg.UnknownClientCacheSize,
		Metrics: clientauth.NewMetrics(reg), Logger: logger, Now: deps.Now,
	})
	handlers := feed.NewHandlers(feed.Config{
		Local:                auth,
		Sink:                 store,
		RevokedCredentialTTL: 24*time.Hour + time.Hour,
		Registerer:           reg,
	})
	audit := auditlog.NewRedisEmitter(rdb, auditlog.RedisOptions{Stream: cfg.AuditStream, Logger: logger, Registerer: reg})
	defer func() {
		// Servers have drained: write what the last requests emitted.
		cctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := audit.Close(cctx); err != nil {
			logger.Error("audit events lost at shutdown", "error", err)
		}
	}()
	svc := oauth.New(oauth.Config{
		Audit:  audit,
		Logger: logger,
		Auth:   auth,
		Tokens: accesstoken.New(accesstoken.Config{
			Keys: mgr, Issuer: cfg.Issuer, Audience: cfg.Audience, TTL: cfg.TokenTTL, Now: deps.Now,
		}),
		Revocations: store,
		Agents:      agents.Directory{Projection: store, Feeds: followers, Registry: registryclient.New(registryv1.NewRegistryServiceClient(regConn))},
		Metrics:     oauth.NewMetrics(reg),
		Now:         deps.Now,
		Audience:    cfg.Audience,
		ClockSkew:   cfg.ClockSkew,
	})

	// Readiness is Redis and keys only: with the credentials service down,
	// cached clients still get tokens, so Envoy must keep sending traffic.
	checker := health.NewChecker(nil, logger)
	checker.Add("redis", store.Ping)
	checker.Add("signing_keys", func(context.Context) error {
		if mgr.Set() == nil {
			return errors.New("no signing keys loaded")
		}
		return nil
	})
	public := serve.NewHTTPServer(httptransport.NewHandler(httptransport.Config{
		Endpoints: endpoints.New(svc), Keys: mgr, Issuer: cfg.Issuer, JWKSMaxAge: cfg.JWKSMaxAge,
		Checker: checker, Logger: logger, Instrument: metrics.NewHTTP(reg).Middleware,
	}), logger)
	admin := serve.NewHTTPServer(serve.AdminMux(reg, checker, serve.WithProfiling(cfg.Pprof)), logger)

	publicLis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	adminLis, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		publicLis.Close()
		return fmt.Errorf("ADMIN_ADDR: %w", err)
	}
	checker.CheckNow(ctx)
	if deps.Ready != nil {
		deps.Ready(publicLis.Addr(), adminLis.Addr())
	}
	logger.Info("token started", "http", publicLis.Addr().String(), "admin", adminLis.Addr().String(),
		"issuer", cfg.Issuer, "keys", keyStoreName(&cfg), "signing_alg", cfg.SigningAlg)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return checker.Run(ctx) })
	g.Go(func() error { return mgr.Run(ctx) })
	g.Go(func() error { return followers.Run(ctx, handlers) })
	g.Go(func() error { return serve.HTTP(ctx, public, publicLis, cfg.ShutdownTimeout) })
	g.Go(func() error { return serve.HTTP(ctx, admin, adminLis, cfg.ShutdownTimeout) })
	err = g.Wait()
	logger.Info("token stopped")
	return err
}

func openKeyStore(cfg *Config) (keys.Store, error) {
	if cfg.VaultAddr != "" {
		return vaultstore.New(vaultstore.Config{
			Addr: cfg.VaultAddr, Token: cfg.VaultToken, Mount: cfg.VaultMount, Timeout: cfg.VaultTimeout,
		}), nil
	}
	kek, err := cfg.kek()
	if err != nil {
		return nil, err
	}
	return filestore.New(cfg.DataDir, kek)
}

func keyStoreName(cfg *Config) string {
	if cfg.VaultAddr != "" {
		return "vault"
	}
	return "file"
}
