// Package app wires the authz service: New builds Redis, the policy
// engine, the JWKS, the change-feed followers, the revocation channel, the
// check service and its gRPC transport from a Config; Run serves until its
// context ends. cmd/authz calls both; tests and benchmarks run it
// in-process.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/sentryagent/agentidp/libs/accesstoken"
	"github.com/sentryagent/agentidp/libs/auditlog"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/grpcclient"
	"github.com/sentryagent/agentidp/libs/health"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/mtls"
	"github.com/sentryagent/agentidp/libs/ratelimit"
	"github.com/sentryagent/agentidp/libs/redisclient"
	"github.com/sentryagent/agentidp/libs/registryclient"
	"github.com/sentryagent/agentidp/libs/serve"
	"github.com/sentryagent/agentidp/services/authz/internal/check"
	"github.com/sentryagent/agentidp/services/authz/internal/jwks"
	"github.com/sentryagent/agentidp/services/authz/internal/policy"
	"github.com/sentryagent/agentidp/services/authz/internal/state"
	"github.com/sentryagent/agentidp/services/authz/internal/token"
	grpctransport "github.com/sentryagent/agentidp/services/authz/internal/transport/grpc"
)

// Deps are what the caller provides: main passes the process's logger, a
// fresh registry and SIGHUP; tests pass their own.
type Deps struct {
	Logger  *slog.Logger         // default: discard
	Metrics *prometheus.Registry // default: a new one
	// Reload delivers SIGHUP: re-read the policy directory now.
	Reload <-chan os.Signal
	// ObserveCheck, if set, receives every check's duration (benchmarks).
	ObserveCheck func(time.Duration)
}

// App is the authz service, built and ready to serve.
type App struct {
	cfg     Config
	logger  *slog.Logger
	reload  <-chan os.Signal
	closers serve.Closers

	engine      *policy.Engine
	keys        *jwks.Cache
	projection  *state.Store
	followers   *state.Followers
	revocations *state.Revocations
	checker     *health.Checker
	grpcSrv     *grpc.Server
	grpcLis     net.Listener
	admin       *http.Server
	httpLis     net.Listener
}

// New connects to Redis, loads the policy (without one nothing can be
// decided), wires the kill switch's state, the check service and its gRPC
// transport, and binds both listeners. ctx bounds this start-up only.
func New(ctx context.Context, cfg Config, deps Deps) (_ *App, err error) {
	logger, reg := deps.Logger, deps.Metrics
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	a := &App{cfg: cfg, logger: logger, reload: deps.Reload}
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
	audit := auditlog.NewRedisEmitter(rdb, auditlog.RedisOptions{Stream: cfg.AuditStream, Logger: logger, Registerer: reg})
	a.closers.Add(func() {
		// The servers have drained: write what the last checks emitted.
		cctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := audit.Close(cctx); err != nil {
			logger.Error("audit events lost at shutdown", "error", err)
		}
	})

	// The policy must load at start-up: without one nothing can be decided.
	a.engine, err = policy.New(ctx, policy.Config{
		Dir: cfg.PolicyDir, Query: cfg.PolicyQuery, Poll: cfg.PolicyPollInterval, Logger: logger, Registerer: reg,
		OnReload: func(r policy.Reload) { auditReload(audit, logger, r) },
	})
	if err != nil {
		return nil, fmt.Errorf("POLICY_DIR %s: %w", cfg.PolicyDir, err)
	}

	tokens := token.NewCache(cfg.TokenCacheSize, nil)
	var jwksClient *http.Client // nil: jwks's default, plaintext
	if mesh != nil {
		// The token service answers only mesh clients, and only its JWKS to authz.
		jwksClient = mesh.HTTPClient(mtls.Token, 5*time.Second)
	}
	a.keys = jwks.New(jwks.Config{
		URL: cfg.JWKSURL, Refresh: cfg.JWKSRefresh, MinRefresh: cfg.JWKSMinRefresh, Client: jwksClient,
		Logger: logger, Registerer: reg, OnChange: tokens.DropKeys,
	})
	verifier := accesstoken.New(accesstoken.Config{Keys: a.keys, Issuer: cfg.Issuer, Audience: cfg.Audience, Skew: cfg.ClockSkew})

	grpcMetrics := metrics.NewGRPC(reg)
	breakers := grpcclient.NewBreakerState(reg)
	regConn, err := grpcclient.Dial(cfg.RegistryAddr, grpcclient.Config{TLS: mesh,
		Name: "registry", Timeout: cfg.RegistryTimeout, Metrics: grpcMetrics, BreakerState: breakers,
	})
	if err != nil {
		return nil, err
	}
	a.closers.Add(func() { regConn.Close() })
	credConn, err := grpcclient.Dial(cfg.CredentialsAddr, grpcclient.Config{TLS: mesh,
		Name: "credentials", Timeout: cfg.RegistryTimeout, Metrics: grpcMetrics, BreakerState: breakers,
	})
	if err != nil {
		return nil, err
	}
	a.closers.Add(func() { credConn.Close() })

	// The kill switch's state: both feeds into memory, and the revocation
	// channel. Whichever becomes live first tells the health checker to
	// look again (an event: the checker in turn checks them).
	recheck := health.NewRecheck()
	a.projection = state.NewStore(cfg.MaxTokenLifetime + cfg.ClockSkew + time.Hour)
	a.followers = state.NewFollowers(state.FollowersConfig{
		Store: a.projection, Logger: logger, Registerer: reg, OnLive: recheck.Notify,
		AgentFeed: registryv1.NewAgentEventsServiceClient(regConn),
		CredFeed:  credentialsv1.NewCredentialEventsServiceClient(credConn),
	})
	a.revocations = state.NewRevocations(state.RevocationsConfig{
		Redis: rdb, Logger: logger, OnRevoke: tokens.DropJTI, OnLive: recheck.Notify,
	})
	stale := cfg.AgentStaleIfError
	if stale == 0 {
		stale = -1 // never serve a stale agent
	}
	agents := state.NewResolver(state.ResolverConfig{
		Store: a.projection, Feed: a.followers.Agents, Registerer: reg,
		Directory: registryDirectory{registryclient.New(registryv1.NewRegistryServiceClient(regConn))},
		MemoFor:   cfg.AgentLookupTTL, StaleIfError: stale,
	})
	registerStateMetrics(reg, a.projection, tokens)

	// store → service → transport
	svc := check.New(check.Config{
		Verifier: verifier, Cache: tokens, Revocations: a.revocations, Record: state.Record{RDB: rdb},
		Credentials: a.projection, CredentialFeedLive: a.followers.Credentials.Live,
		Agents: agents, Policy: a.engine,
		Limiter: ratelimit.New(ratelimit.Config{Redis: rdb, Window: cfg.RateLimitReserveWindow}),
		Audit:   audit, Ready: func() bool { return a.ready() == nil },
		Metrics: check.NewMetrics(reg, deps.ObserveCheck), Logger: logger, Timeout: cfg.CheckTimeout,
	})
	// Who may ask for decisions: the gateway, and the Envoys of other apps
	// this instance protects (EXTAUTHZ_CALLERS, docs/authz.md).
	allow := mtls.Allow{}
	for _, caller := range cfg.ExtAuthzCallers {
		allow[caller] = mtls.Mesh[mtls.Authz][mtls.Gateway]
	}
	grpcSrv, healthSrv := grpctransport.NewGRPCServer(grpcMetrics, logger, grpctransport.Mesh{TLS: mesh, Allow: allow, Reflection: cfg.GRPCReflection})
	authv3.RegisterAuthorizationServer(grpcSrv, grpctransport.NewServer(svc))
	a.grpcSrv = grpcSrv

	a.checker = health.NewChecker(health.Config{GRPC: healthSrv, Logger: logger, Recheck: recheck,
		Checks: map[string]health.Check{
			"redis": func(ctx context.Context) error { return rdb.Ping(ctx).Err() },
			"state": func(context.Context) error { return a.ready() },
		}})
	a.admin = serve.NewHTTPServer(metrics.NewHTTP(reg).Middleware(serve.AdminMux(reg, a.checker, serve.WithProfiling(cfg.Pprof))), logger)

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

// ready says what keeps this replica from deciding: until the JWKS is
// fetched, both feeds have caught up and the revocation channel is
// subscribed, every check is a 503.
func (a *App) ready() error {
	var missing []string
	if a.keys.Current() == nil {
		missing = append(missing, "JWKS not fetched")
	}
	if !a.followers.Agents.EverLive() {
		missing = append(missing, "registry feed not caught up")
	}
	if !a.followers.Credentials.EverLive() {
		missing = append(missing, "credentials feed not caught up")
	}
	if !a.revocations.EverLive() {
		missing = append(missing, "revocation channel not subscribed")
	}
	if len(missing) > 0 {
		return errors.New(strings.Join(missing, "; "))
	}
	return nil
}

// Run serves until ctx ends, then drains both servers, writes the audit
// events the last checks emitted and closes Redis and the connections.
// Call it once.
func (a *App) Run(ctx context.Context) error {
	defer a.closers.Close()
	if err := a.keys.Fetch(ctx); err != nil {
		a.logger.Warn("JWKS not available yet; answering 503 until it is", "url", a.cfg.JWKSURL, "error", err)
	}
	a.logger.Info("authz started", "grpc", a.grpcLis.Addr().String(), "http", a.httpLis.Addr().String(),
		"policy", a.cfg.PolicyDir, "revision", a.engine.Current().Revision, "issuer", a.cfg.Issuer, "jwks", a.cfg.JWKSURL)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.checker.Run(ctx) })
	g.Go(func() error { return a.keys.Run(ctx) })
	g.Go(func() error { return a.followers.RunAgents(ctx) })
	g.Go(func() error { return a.followers.RunCredentials(ctx) })
	g.Go(func() error { return a.revocations.Run(ctx) })
	g.Go(func() error { return a.engine.Watch(ctx, a.reload) })
	g.Go(func() error { return prune(ctx, a.projection) })
	g.Go(func() error { return serve.GRPC(ctx, a.grpcSrv, a.grpcLis, a.cfg.ShutdownTimeout) })
	g.Go(func() error { return serve.HTTP(ctx, a.admin, a.httpLis, a.cfg.ShutdownTimeout) })
	err := g.Wait()
	a.logger.Info("authz stopped")
	return err
}

// prune forgets credential revocations older than any token.
func prune(ctx context.Context, s *state.Store) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			s.Prune(now)
		}
	}
}

func registerStateMetrics(reg prometheus.Registerer, s *state.Store, c *token.Cache) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Name: "authz_projection_agents",
			Help: "Agents this replica knows from the registry feed.",
		}, func() float64 { n, _ := s.Counts(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Name: "authz_revoked_credentials",
			Help: "Credential revocations this replica holds (those younger than any token).",
		}, func() float64 { _, n := s.Counts(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Name: "authz_token_cache_entries",
			Help: "Verified tokens held in memory.",
		}, func() float64 { return float64(c.Len()) }),
	)
}

// auditReload records policy.reloaded (applied or rejected).
func auditReload(audit *auditlog.RedisEmitter, logger *slog.Logger, r policy.Reload) {
	ev := auditlog.Event{
		Actor: auditlog.ActorSystem, Action: auditlog.ActionPolicyReloaded,
		Target: "policy:" + r.Revision, Outcome: auditlog.OutcomeSuccess,
		Details: map[string]string{"revision": r.Revision, "previous": r.Previous, "trigger": r.Trigger},
	}
	if r.Err != nil {
		ev.Outcome = auditlog.OutcomeFailure
		msg := r.Err.Error()
		if len(msg) > auditlog.MaxDetailValueLen {
			msg = msg[:auditlog.MaxDetailValueLen]
		}
		ev.Details["error"] = msg
	} else {
		ev.Details["tests_passed"] = fmt.Sprint(r.Tests)
	}
	go func() {
		if err := audit.Emit(context.Background(), ev); err != nil {
			logger.Warn("audit event not recorded", "action", ev.Action, "error", err)
		}
	}()
}
