// Package feed follows the registry's and the credentials service's change
// feeds into Redis: the projection of agents (status, scopes) and each
// agent's credential generation, which void cached client authentications
// within moments of a suspension, rotation or revocation. It also tells
// the hot path whether both feeds are live on this replica.
package feed

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/agentevents"
	"github.com/sentryagent/agentidp/libs/credentialevents"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/services/token/internal/authcache"
)

// Sink is where events go (the Redis store).
type Sink interface {
	PutAgent(ctx context.Context, agentID string, a authcache.Agent) error
	BumpCredGen(ctx context.Context, agentID string, sequence int64) error
	RevokeCredential(ctx context.Context, credentialID string, at time.Time, keep time.Duration) error
}

// Forgetter drops what a replica holds in memory about a client (the
// client authenticator's local cache).
type Forgetter interface {
	Forget(clientID string)
}

// Config configures the followers.
type Config struct {
	Sink Sink
	// Local, if set, is told about every agent an event concerns, after
	// Redis was updated.
	Local Forgetter
	// The feeds and the shared cursors the followers resume from.
	AgentFeed        registryv1.AgentEventsServiceClient
	AgentCursor      agentevents.Cursor
	CredentialFeed   credentialsv1.CredentialEventsServiceClient
	CredentialCursor credentialevents.Cursor
	// RevokedCredentialTTL is how long a credential revocation is kept in
	// the shared record: longer than any token lives.
	RevokedCredentialTTL time.Duration
	// Settle is how long a newly opened stream must stay up to count as
	// live when the server sends nothing (default 250ms).
	Settle     time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Followers runs both feeds and reports their liveness.
type Followers struct {
	cfg         Config
	agents      *liveness
	credentials *liveness
	events      *prometheus.CounterVec
}

// New returns the followers; Run starts them.
func New(cfg Config) *Followers {
	if cfg.Settle <= 0 {
		cfg.Settle = 250 * time.Millisecond
	}
	f := &Followers{cfg: cfg,
		agents:      &liveness{name: "agents", logger: cfg.Logger},
		credentials: &liveness{name: "credentials", logger: cfg.Logger},
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "token_feed_events_total",
			Help: "Change-feed events applied to the cache, by feed (agents, credentials) and event type.",
		}, []string{"feed", "type"})}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(f.events, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Name: "token_feed_live",
			Help:        "1 while this replica follows the feed; 0 means cached authentications are re-verified.",
			ConstLabels: prometheus.Labels{"feed": "agents"},
		}, func() float64 { return b2f(f.agents.Load()) }), prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Name: "token_feed_live",
			Help:        "1 while this replica follows the feed; 0 means cached authentications are re-verified.",
			ConstLabels: prometheus.Labels{"feed": "credentials"},
		}, func() float64 { return b2f(f.credentials.Load()) }))
	}
	return f
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Live reports whether both feeds are followed right now.
func (f *Followers) Live() bool { return f.agents.Load() && f.credentials.Load() }

// RunAgents follows the registry's feed until ctx ends.
func (f *Followers) RunAgents(ctx context.Context) error {
	client := &agentClient{AgentEventsServiceClient: f.cfg.AgentFeed, live: f.agents, settle: f.cfg.Settle}
	return agentevents.Follow(ctx, client, f.cfg.AgentCursor, f.handleAgent, f.cfg.Logger.With("feed", "agents"))
}

// RunCredentials follows the credentials service's feed until ctx ends.
func (f *Followers) RunCredentials(ctx context.Context) error {
	client := &credentialClient{CredentialEventsServiceClient: f.cfg.CredentialFeed, live: f.credentials, settle: f.cfg.Settle}
	return credentialevents.Follow(ctx, client, f.cfg.CredentialCursor, f.handleCredential, f.cfg.Logger.With("feed", "credentials"))
}

func (f *Followers) handleAgent(ctx context.Context, e *registryv1.AgentEvent) error {
	a := e.GetAgent()
	if a.GetAgentId() == "" {
		return nil
	}
	f.events.WithLabelValues("agents", e.GetType()).Inc()
	err := f.cfg.Sink.PutAgent(ctx, a.GetAgentId(), authcache.Agent{
		Sequence: e.GetSequence(), Status: a.GetStatus(), Scopes: a.GetScopes(),
	})
	f.forget(a.GetAgentId())
	return err
}

func (f *Followers) forget(agentID string) {
	if f.cfg.Local != nil {
		f.cfg.Local.Forget(agentID)
	}
}

func (f *Followers) handleCredential(ctx context.Context, e *credentialsv1.CredentialEvent) error {
	if e.GetAgentId() == "" {
		return nil
	}
	f.events.WithLabelValues("credentials", e.GetType()).Inc()
	if e.GetType() == credentialevents.Revoked && e.GetCredentialId() != "" {
		at := time.Now()
		if e.GetOccurredAt() != nil {
			at = e.GetOccurredAt().AsTime()
		}
		if err := f.cfg.Sink.RevokeCredential(ctx, e.GetCredentialId(), at, f.cfg.RevokedCredentialTTL); err != nil {
			return err
		}
	}
	if e.GetType() == credentialevents.Created {
		// A new secret cannot change what any cached secret is worth, but
		// the client is no longer unknown (the negative cache).
		f.forget(e.GetAgentId())
		return nil
	}
	// Any other change to a credential (and any type added later) voids
	// the agent's cached authentications: cheaper than knowing which.
	err := f.cfg.Sink.BumpCredGen(ctx, e.GetAgentId(), e.GetSequence())
	f.forget(e.GetAgentId())
	return err
}
