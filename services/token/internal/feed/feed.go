// Package feed follows the registry's and the credentials service's change
// feeds into Redis: the projection of agents (status, scopes) and each
// agent's credential generation, which void cached client authentications
// within moments of a suspension, rotation or revocation. Its Followers
// tell the hot path whether both feeds are live on this replica (libs/feed:
// caught up with everything committed before the stream opened).
package feed

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	libfeed "github.com/sentryagent/agentidp/libs/feed"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/tokencheck"
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

// Config configures the handlers.
type Config struct {
	Sink Sink
	// Local, if set, is told about every agent an event concerns, after
	// Redis was updated.
	Local Forgetter
	// RevokedCredentialTTL is how long a credential revocation is kept in
	// the shared record: longer than any token lives.
	RevokedCredentialTTL time.Duration
	Registerer           prometheus.Registerer
}

// Handlers apply both feeds' events (Followers.Run).
type Handlers struct {
	cfg    Config
	events *prometheus.CounterVec
}

// NewHandlers returns the handlers.
func NewHandlers(cfg Config) *Handlers {
	f := &Handlers{cfg: cfg,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "token_feed_events_total",
			Help: "Change-feed events applied to the cache, by feed (agents, credentials) and event type.",
		}, []string{"feed", "type"})}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(f.events)
	}
	return f
}

func (f *Handlers) handleAgent(ctx context.Context, e *registryv1.AgentEvent) error {
	a := e.GetAgent()
	if a.GetAgentId() == "" {
		return nil
	}
	f.events.WithLabelValues("agents", e.GetType()).Inc()
	err := f.cfg.Sink.PutAgent(ctx, a.GetAgentId(), authcache.Agent{
		Sequence: e.GetSequence(), Status: a.GetStatus(), Scopes: a.GetScopes(), Owner: a.GetOwner(),
		RevokedThrough: tokencheck.RevokedThrough(a),
	})
	f.forget(a.GetAgentId())
	return err
}

func (f *Handlers) forget(agentID string) {
	if f.cfg.Local != nil {
		f.cfg.Local.Forget(agentID)
	}
}

func (f *Handlers) handleCredential(ctx context.Context, e *credentialsv1.CredentialEvent) error {
	if e.GetAgentId() == "" {
		return nil
	}
	f.events.WithLabelValues("credentials", e.GetType()).Inc()
	if e.GetType() == libfeed.CredentialRevoked && e.GetCredentialId() != "" {
		at := time.Now()
		if e.GetOccurredAt() != nil {
			at = e.GetOccurredAt().AsTime()
		}
		if err := f.cfg.Sink.RevokeCredential(ctx, e.GetCredentialId(), at, f.cfg.RevokedCredentialTTL); err != nil {
			return err
		}
	}
	if e.GetType() == libfeed.CredentialCreated {
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
