package state

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/feed"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/tokencheck"
)

// Followers keep the Store current from both feeds. Each is live (libs/feed)
// while its stream is open and everything committed before the stream
// opened has been applied; the projection lives in memory, so a new
// process replays both feeds from the start (feed.MemoryCursor).
type Followers struct {
	store       *Store
	Agents      *feed.Follower[*registryv1.AgentEvent]
	Credentials *feed.Follower[*credentialsv1.CredentialEvent]
	events      *prometheus.CounterVec
}

// FollowersConfig configures the followers.
type FollowersConfig struct {
	Store      *Store
	AgentFeed  registryv1.AgentEventsServiceClient
	CredFeed   credentialsv1.CredentialEventsServiceClient
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// OnLive is called whenever a feed becomes live; it must not block.
	OnLive func()
	// Settle is used only with servers that do not send feed.HeadHeader.
	Settle time.Duration
}

// NewFollowers returns followers; RunAgents and RunCredentials start them.
func NewFollowers(cfg FollowersConfig) *Followers {
	feedConfig := func(name string) feed.Config {
		return feed.Config{Name: name, Settle: cfg.Settle, OnLive: cfg.OnLive, Logger: cfg.Logger}
	}
	f := &Followers{store: cfg.Store,
		Agents:      feed.New(feed.AgentEvents(cfg.AgentFeed), &feed.MemoryCursor{}, feedConfig("agents")),
		Credentials: feed.New(feed.CredentialEvents(cfg.CredFeed), &feed.MemoryCursor{}, feedConfig("credentials")),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "authz_feed_events_total",
			Help: "Change-feed events applied to this replica's projection, by feed (agents, credentials).",
		}, []string{"feed"}),
	}
	if cfg.Registerer != nil {
		const help = "1 while this replica follows the feed and has caught up with it."
		cfg.Registerer.MustRegister(f.events,
			f.Agents.LiveGauge("authz_feed_live", help), f.Credentials.LiveGauge("authz_feed_live", help))
	}
	return f
}

// RunAgents follows the registry's feed until ctx ends.
func (f *Followers) RunAgents(ctx context.Context) error {
	return f.Agents.Run(ctx, func(_ context.Context, batch []*registryv1.AgentEvent) error {
		events := make([]AgentEvent, 0, len(batch))
		for _, e := range batch {
			a := e.GetAgent()
			events = append(events, AgentEvent{Sequence: e.GetSequence(), Type: e.GetType(),
				OccurredAt: e.GetOccurredAt().AsTime(), AgentID: a.GetAgentId(), Status: a.GetStatus(), Owner: a.GetOwner(),
				Scopes: a.GetScopes(), RevokedThrough: tokencheck.RevokedThrough(a)})
		}
		f.store.ApplyAgents(events)
		f.events.WithLabelValues("agents").Add(float64(len(events)))
		return nil
	})
}

// RunCredentials follows the credentials service's feed until ctx ends.
func (f *Followers) RunCredentials(ctx context.Context) error {
	return f.Credentials.Run(ctx, func(_ context.Context, batch []*credentialsv1.CredentialEvent) error {
		events := make([]CredentialEvent, 0, len(batch))
		for _, e := range batch {
			events = append(events, CredentialEvent{Sequence: e.GetSequence(), Type: e.GetType(),
				OccurredAt: e.GetOccurredAt().AsTime(), CredentialID: e.GetCredentialId()})
		}
		f.store.ApplyCredentials(events, time.Now())
		f.events.WithLabelValues("credentials").Add(float64(len(events)))
		return nil
	})
}
