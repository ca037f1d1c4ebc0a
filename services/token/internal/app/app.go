// Package app wires the token service: New builds config → stores →
// service → endpoints → transports, Run serves until its context ends.
// cmd/token calls both; tests run it in-process too (benchmarks, profiles).
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/sentryagent/agentidp/libs/accesstoken"
	"github.com/sentryagent/agentidp/libs/auditlog"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/grpcclient"
	"github.com/sentryagent/agentidp/libs/health"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/mtls"
	"github.com/sentryagent/agentidp/libs/redisclient"
	"github.com/sentryagent/agentidp/libs/registryclient"
	"github.com/sentryagent/agentidp/libs/serve"
	"github.com/sentryagent/agentidp/libs/vaultclient"
	"github.com/sentryagent/agentidp/services/token/internal/agents"
	"github.com/sentryagent/agentidp/services/token/internal/authcache"
	"github.com/sentryagent/agentidp/services/token/internal/clientauth"
	"github.com/sentryagent/agentidp/services/token/internal/endpoints"
	"github.com/sentryagent/agentidp/services/token/internal/feed"
	"github.com/sentryagent/agentidp/services/token/internal/issuer"
	"github.com/sentryagent/agentidp/services/token/internal/keys"
	"github.com/sentryagent/agentidp/services/token/internal/keys/filestore"
	"github.com/sentryagent/agentidp/services/token/internal/keys/transit"
	"github.com/sentryagent/agentidp/services/token/internal/keys/vaultstore"
	"github.com/sentryagent/agentidp/services/token/internal/oauth"
	redisstore "github.com/sentryagent/agentidp/services/token/internal/store/redis"
	httptransport "github.com/sentryagent/agentidp/services/token/internal/transport/http"
)

// Deps are what the caller provides: main passes the process's logger and
// a fresh registry; tests pass their own.
type Deps struct {
	Logger  *slog.Logger         // default: discard
	Metrics *prometheus.Registry // default: a new one
	// Now is the clock of the key manager and tokens (tests); default time.Now.
	Now func() time.Time
}

// App is the token service, built and ready to serve.
type App struct {
	cfg     Config
	logger  *slog.Logger
	closers serve.Closers

	// keys signs and publishes: the stored keys' manager, or the transit
	// key (then stored manages the cache key and the keys that signed
	// before the switch).
	keys      keySource
	stored    *keys.Manager
	vault     *vaultclient.Client // nil: signing keys in a file
	followers *feed.Followers
	handlers  *feed.Handlers
	checker   *health.Checker
	public    *http.Server
	publicLis net.Listener
	admin     *http.Server
	adminLis  net.Listener
}

// New connects to Redis, loads the signing keys (creating the first ones
// on a first start), wires config → stores → service → endpoints →
// transport and binds both listeners. ctx bounds this start-up only.
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

	rdb, err := redisclient.Open(ctx, cfg.RedisURL, metrics.NewStore(reg))
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	a.closers.Add(func() { rdb.Close() })
	store := redisstore.New(rdb)

	// Signing keys: loaded (and created on first start) before serving.
	keyStore, err := a.openKeyStore(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	cacheKey, _ := cfg.cacheKey()
	policy := keys.Policy{Alg: cfg.SigningAlg, Interval: cfg.KeyRotationInterval,
		Prepublish: cfg.KeyPrepublish, Retention: cfg.retention()}
	storedPolicy, storedReg := policy, prometheus.Registerer(reg)
	if cfg.TokenSigning == SigningTransit {
		// The store keeps the cache key and withdraws the keys that
		// signed before the switch; transit publishes the metrics.
		storedPolicy.Alg, storedReg = "", nil
	}
	a.stored = keys.NewManager(keys.ManagerConfig{
		Store: keyStore, Policy: storedPolicy,
		Reload: cfg.KeyReloadInterval, CacheKey: cacheKey, Logger: logger, Registerer: storedReg, Now: deps.Now,
	})
	if err := a.stored.Sync(ctx); err != nil {
		return nil, err
	}
	a.keys = a.stored
	if cfg.TokenSigning == SigningTransit {
		vs, ok := keyStore.(*vaultstore.Store)
		if !ok {
			return nil, errors.New("TOKEN_SIGNING=transit: needs VAULT_ADDR")
		}
		src, err := transit.New(transit.Config{
			Client: vs.Client(), Mount: cfg.TransitMount, Key: cfg.TransitKey, Policy: policy, Rotate: cfg.TransitRotate,
			Reload: cfg.KeyReloadInterval, CacheKey: a.stored.Set().CacheKey(), Legacy: a.stored.Set,
			Logger: logger, Registerer: reg, Now: deps.Now,
		})
		if err != nil {
			return nil, err
		}
		if err := src.Sync(ctx); err != nil {
			return nil, fmt.Errorf("TOKEN_SIGNING=transit: %w", err)
		}
		a.keys = src
	}

	grpcMetrics := metrics.NewGRPC(reg)
	breakers := grpcclient.NewBreakerState(reg)
	credConn, err := grpcclient.Dial(cfg.CredentialsAddr, grpcclient.Config{TLS: mesh,
		Name: "credentials", Timeout: cfg.CredentialsTimeout, Metrics: grpcMetrics, BreakerState: breakers,
	})
	if err != nil {
		return nil, err
	}
	a.closers.Add(func() { credConn.Close() })
	regConn, err := grpcclient.Dial(cfg.RegistryAddr, grpcclient.Config{TLS: mesh,
		Name: "registry", Timeout: cfg.RegistryTimeout, Metrics: grpcMetrics, BreakerState: breakers,
	})
	if err != nil {
		return nil, err
	}
	a.closers.Add(func() { regConn.Close() })

	// store → service → endpoints → transport. The followers are built
	// before the authenticator, which asks them whether the feeds are live;
	// the handlers after it, which they tell what to forget; Run hands the
	// handlers to the followers.
	var rate *authcache.Rate
	if cfg.RateLimitPerSecond > 0 {
		rate = &authcache.Rate{PerSecond: cfg.RateLimitPerSecond, Burst: cfg.RateLimitBurst}
	}
	a.followers = feed.NewFollowers(feed.FollowersConfig{
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
		Feeds:    a.followers,
		CacheKey: a.keys.Set().CacheKey(),
		Rate:     rate,
		Failures: cfg.failures(),
		FreshFor: cfg.CacheTTL, StaleFor: cfg.CacheStaleIfError, LocalTTL: cfg.LocalCacheTTL,
		UnknownTTL: cfg.UnknownClientCacheTTL, UnknownSize: cfg.UnknownClientCacheSize,
		Metrics: clientauth.NewMetrics(reg), Logger: logger, Now: deps.Now,
	})
	a.handlers = feed.NewHandlers(feed.Config{
		Local:                auth,
		Sink:                 store,
		RevokedCredentialTTL: 24*time.Hour + time.Hour,
		Registerer:           reg,
	})
	audit := auditlog.NewRedisEmitter(rdb, auditlog.RedisOptions{Stream: cfg.AuditStream, Logger: logger, Registerer: reg})
	a.closers.Add(func() {
		// The servers have drained: write what the last requests emitted.
		cctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := audit.Close(cctx); err != nil {
			logger.Error("audit events lost at shutdown", "error", err)
		}
	})
	svc := oauth.New(oauth.Config{
		Audit:  audit,
		Logger: logger,
		Auth:   auth,
		Tokens: issuer.New(issuer.Config{
			Keys: a.keys, Issuer: cfg.Issuer, Audience: cfg.Audience, TTL: cfg.TokenTTL, Now: deps.Now,
		}),
		Verifier: accesstoken.New(accesstoken.Config{
			Keys: issuer.Keys{Source: a.keys}, Issuer: cfg.Issuer, Audience: cfg.Audience, Skew: cfg.ClockSkew, Now: deps.Now,
		}),
		Revocations: store,
		Agents:      agents.Directory{Projection: store, Feeds: a.followers, Registry: registryclient.New(registryv1.NewRegistryServiceClient(regConn))},
		Metrics:     oauth.NewMetrics(reg),
		Now:         deps.Now,
	})

	// Readiness is Redis and keys only: with the credentials service down,
	// cached clients still get tokens, so Envoy must keep sending traffic.
	// With transit, Vault's state is reported but does not decide
	// readiness either: an unready replica would also stop serving the
	// JWKS and introspection, which work without Vault; token requests
	// fail closed with a 503 on their own.
	informational := map[string]health.Check{}
	if src, ok := a.keys.(*transit.Source); ok {
		informational["vault_transit"] = src.Check
	}
	a.checker = health.NewChecker(health.Config{Logger: logger, Checks: map[string]health.Check{
		"redis": store.Ping,
		"signing_keys": func(context.Context) error {
			if a.keys.Set() == nil {
				return errors.New("no signing keys loaded")
			}
			return nil
		},
	}, Informational: informational})
	var public http.Handler = httptransport.NewHandler(httptransport.Config{
		Endpoints: endpoints.New(svc), Keys: a.keys, Issuer: cfg.Issuer, JWKSMaxAge: cfg.JWKSMaxAge,
		Checker: a.checker, Logger: logger, Instrument: metrics.NewHTTP(reg).Middleware,
	})
	if mesh != nil {
		// Behind the gateway: only Envoy (every path) and authz (the JWKS)
		// reach this listener, over mutual TLS.
		public = mtls.Mesh[mtls.Token].Handler(public)
	}
	a.public = serve.NewHTTPServer(public, logger)
	a.admin = serve.NewHTTPServer(serve.AdminMux(reg, a.checker, serve.WithProfiling(cfg.Pprof)), logger)

	if a.publicLis, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("HTTP_ADDR: %w", err)
	}
	a.closers.Add(func() { a.publicLis.Close() })
	if mesh != nil {
		a.publicLis = tls.NewListener(a.publicLis, mesh.ServerTLS("h2", "http/1.1"))
	}
	if a.adminLis, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
		return nil, fmt.Errorf("ADMIN_ADDR: %w", err)
	}
	a.closers.Add(func() { a.adminLis.Close() })
	return a, nil
}

// Addrs are the addresses the public and admin listeners are bound to (a
// port of 0 in the Config is chosen by the system).
func (a *App) Addrs() (public, admin net.Addr) { return a.publicLis.Addr(), a.adminLis.Addr() }

// Run serves until ctx ends, then drains both servers, writes the audit
// events the last requests emitted and closes Redis and the connections.
// Call it once.
func (a *App) Run(ctx context.Context) error {
	defer a.closers.Close()
	a.checker.CheckNow(ctx)
	a.logger.Info("token started", "http", a.publicLis.Addr().String(), "admin", a.adminLis.Addr().String(),
		"issuer", a.cfg.Issuer, "keys", keyStoreName(&a.cfg), "signing_alg", a.cfg.SigningAlg, "token_signing", a.cfg.TokenSigning)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.checker.Run(ctx) })
	g.Go(func() error { return a.keys.Run(ctx) })
	if a.keys != keySource(a.stored) {
		g.Go(func() error { return a.stored.Run(ctx) })
	}
	if a.vault != nil {
		// Renews the Vault token (or logs in again) so that key rotation
		// and reloads keep working past the token's TTL.
		g.Go(func() error { return a.vault.KeepAlive(ctx) })
	}
	g.Go(func() error { return a.followers.Run(ctx, a.handlers) })
	g.Go(func() error { return serve.HTTP(ctx, a.public, a.publicLis, a.cfg.ShutdownTimeout) })
	g.Go(func() error { return serve.HTTP(ctx, a.admin, a.adminLis, a.cfg.ShutdownTimeout) })
	err := g.Wait()
	a.logger.Info("token stopped")
	return err
}

// keySource is where the issuer's keys come from: a *keys.Manager or a
// *transit.Source.
type keySource interface {
	Set() *keys.Set
	Run(ctx context.Context) error
}

// openKeyStore opens the signing key store: Vault (logged in with
// libs/vaultclient, whose token Run keeps alive) or the encrypted file.
func (a *App) openKeyStore(ctx context.Context, cfg *Config) (keys.Store, error) {
	if cfg.VaultAddr != "" {
		vc, err := vaultclient.New(ctx, cfg.Vault.Config(cfg.VaultAddr, cfg.VaultToken, cfg.VaultTimeout, a.logger))
		if err != nil {
			return nil, err
		}
		a.vault = vc
		return vaultstore.NewFromClient(vc.API(), cfg.VaultMount), nil
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
