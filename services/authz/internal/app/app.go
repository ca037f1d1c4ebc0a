// Package app wires the authz service: configuration, Redis, the policy
// engine, the JWKS, the change-feed followers, the revocation channel, the
// check service and its gRPC transport, run until the context ends.
// cmd/authz calls it; tests and benchmarks run it in-process.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/sentryagent/agentidp/libs/auditlog"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/grpcclient"
	"github.com/sentryagent/agentidp/libs/health"
	"github.com/sentryagent/agentidp/libs/metrics"
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

// Deps are what the caller provides.
type Deps struct {
	Logger  *slog.Logger
	Metrics *prometheus.Registry
	// Reload delivers SIGHUP: re-read the policy directory now.
	Reload <-chan os.Signal
	// Ready, if set, is called once both listeners accept connections.
	Ready func(grpcAddr, httpAddr net.Addr)
	// ObserveCheck, if set, receives every check's duration (benchmarks).
	ObserveCheck func(time.Duration)
}

// Run serves until ctx ends.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	logger, reg := deps.Logger, deps.Metrics

	rdb, err := redisclient.Open(ctx, cfg.RedisURL, metrics.NewStore(reg))
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	defer rdb.Close()

	audit := auditlog.NewRedisEmitter(rdb, auditlog.RedisOptions{Stream: cfg.AuditStream, Logger: logger, Registerer: reg})
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := audit.Close(cctx); err != nil {
			logger.Error("audit events lost at shutdown", "error", err)
		}
	}()

	// The policy must load at start-up: without one nothing can be decided.
	engine, err := policy.New(ctx, policy.Config{
		Dir: cfg.PolicyDir, Query: cfg.PolicyQuery, Poll: cfg.PolicyPollInterval, Logger: logger, Registerer: reg,
		OnReload: func(r policy.Reload) { auditReload(audit, logger, r) },
	})
	if err != nil {
		return fmt.Errorf("POLICY_DIR %s: %w", cfg.PolicyDir, err)
	}

	tokens := token.NewCache(cfg.TokenCacheSize, nil)
	keys := jwks.New(jwks.Config{
		URL: cfg.JWKSURL, Refresh: cfg.JWKSRefresh, MinRefresh: cfg.JWKSMinRefresh,
		Logger: logger, Registerer: reg, OnChange: tokens.DropKeys,
	})
	verifier := token.New(token.Config{Keys: keys, Issuer: cfg.Issuer, Audience: cfg.Audience, Skew: cfg.ClockSkew})

	grpcMetrics := metrics.NewGRPC(reg)
	breakers := grpcclient.NewBreakerState(reg)
	regConn, err := grpcclient.Dial(cfg.RegistryAddr, grpcclient.Config{
		Name: "registry", Timeout: cfg.RegistryTimeout, Metrics: grpcMetrics, BreakerState: breakers,
	})
	if err != nil {
		return err
	}
	defer regConn.Close()
	credConn, err := grpcclient.Dial(cfg.CredentialsAddr, grpcclient.Config{
		Name: "credentials", Timeout: cfg.RegistryTimeout, Metrics: grpcMetrics, BreakerState: breakers,
	})
	if err != nil {
		return err
	}
	defer credConn.Close()

	// The kill switch's state: both feeds into memory, and the revocation
	// channel.
	projection := state.NewStore(cfg.MaxTokenLifetime + cfg.ClockSkew + time.Hour)
	grpcSrv, healthSrv := grpctransport.NewGRPCServer(grpcMetrics, logger)
	checker := health.NewChecker(healthSrv, logger)
	recheck := func() { go checker.CheckNow(ctx) }
	followers := state.NewFollowers(state.FollowersConfig{
		Store: projection, Logger: logger, Registerer: reg, OnLive: recheck,
		AgentFeed: registryv1.NewAgentEventsServiceClient(regConn),
		CredFeed:  credentialsv1.NewCredentialEventsServiceClient(credConn),
	})
	revocations := state.NewRevocations(rdb, logger)
	revocations.OnRevoke = tokens.DropJTI
	revocations.OnLive = recheck
	stale := cfg.AgentStaleIfError
	if stale == 0 {
		stale = -1 // never serve a stale agent
	}
	agents := state.NewResolver(state.ResolverConfig{
		Store: projection, Feed: followers.Agents, Registerer: reg,
		Directory: registryDirectory{registryclient.New(registryv1.NewRegistryServiceClient(regConn))},
		MemoFor:   cfg.AgentLookupTTL, StaleIfError: stale,
	})
	ready := func() error {
		var missing []string
		if keys.Current() == nil {
			missing = append(missing, "JWKS not fetched")
		}
		if !followers.Agents.EverLive() {
			missing = append(missing, "registry feed not caught up")
		}
		if !followers.Credentials.EverLive() {
			missing = append(missing, "credentials feed not caught up")
		}
		if !revocations.EverLive() {
			missing = append(missing, "revocation channel not subscribed")
		}
		if len(missing) > 0 {
			return errors.New(strings.Join(missing, "; "))
		}
		return nil
	}
	checkMetrics := check.NewMetrics(reg)
	checkMetrics.Observe = deps.ObserveCheck
	registerStateMetrics(reg, projection, tokens)

	// store → service → transport
	svc := check.New(check.Config{
		Verifier: verifier, Cache: tokens, Revocations: revocations, Record: state.Record{RDB: rdb},
		Credentials: projection, CredentialFeedLive: followers.Credentials.Live,
		Agents: agents, Policy: engine,
		Limiter: ratelimit.New(ratelimit.Config{Redis: rdb, Window: cfg.RateLimitReserveWindow}),
		Audit:   audit, Ready: func() bool { return ready() == nil },
		Metrics: checkMetrics, Logger: logger, Timeout: cfg.CheckTimeout,
	})
	authv3.RegisterAuthorizationServer(grpcSrv, grpctransport.NewServer(svc))

	checker.Add("redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
	checker.Add("state", func(context.Context) error { return ready() })
	admin := serve.NewHTTPServer(metrics.NewHTTP(reg).Middleware(serve.AdminMux(reg, checker, serve.WithProfiling(cfg.Pprof))), logger)

	grpcLis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("GRPC_ADDR: %w", err)
	}
	httpLis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	if err := keys.Fetch(ctx); err != nil {
		logger.Warn("JWKS not available yet; answering 503 until it is", "url", cfg.JWKSURL, "error", err)
	}
	if deps.Ready != nil {
		deps.Ready(grpcLis.Addr(), httpLis.Addr())
	}
	logger.Info("authz started", "grpc", grpcLis.Addr().String(), "http", httpLis.Addr().String(),
		"policy", cfg.PolicyDir, "revision", engine.Current().Revision, "issuer", cfg.Issuer, "jwks", cfg.JWKSURL)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return checker.Run(ctx) })
	g.Go(func() error { return keys.Run(ctx) })
	g.Go(func() error { return followers.RunAgents(ctx) })
	g.Go(func() error { return followers.RunCredentials(ctx) })
	g.Go(func() error { return revocations.Run(ctx) })
	g.Go(func() error { return engine.Watch(ctx, deps.Reload) })
	g.Go(func() error { return prune(ctx, projection) })
	g.Go(func() error { return serve.GRPC(ctx, grpcSrv, grpcLis, cfg.ShutdownTimeout) })
	g.Go(func() error { return serve.HTTP(ctx, admin, httpLis, cfg.ShutdownTimeout) })
	err = g.Wait()
	logger.Info("authz stopped")
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
