package feed

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	libfeed "github.com/sentryagent/agentidp/libs/feed"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
)

// FollowersConfig configures the followers.
type FollowersConfig struct {
	// The feeds and the shared cursors the followers resume from.
	AgentFeed        registryv1.AgentEventsServiceClient
	AgentCursor      libfeed.Cursor
	CredentialFeed   credentialsv1.CredentialEventsServiceClient
	CredentialCursor libfeed.Cursor
	Logger           *slog.Logger
	Registerer       prometheus.Registerer
}

// Followers follow both feeds and say whether they are live. They are
// built before the authenticator (which asks them) and run with the
// handlers (which tell the authenticator what to forget).
type Followers struct {
	agents      *libfeed.Follower[*registryv1.AgentEvent]
	credentials *libfeed.Follower[*credentialsv1.CredentialEvent]
}

// NewFollowers returns the followers; Run starts them.
func NewFollowers(cfg FollowersConfig) *Followers {
	f := &Followers{
		agents: libfeed.New(libfeed.AgentEvents(cfg.AgentFeed), cfg.AgentCursor,
			libfeed.Config{Name: "agents", Logger: cfg.Logger}),
		credentials: libfeed.New(libfeed.CredentialEvents(cfg.CredentialFeed), cfg.CredentialCursor,
			libfeed.Config{Name: "credentials", Logger: cfg.Logger}),
	}
	if cfg.Registerer != nil {
		const help = "1 while this replica follows the feed and has caught up with it; 0 means cached authentications are re-verified."
		cfg.Registerer.MustRegister(f.agents.LiveGauge("token_feed_live", help), f.credentials.LiveGauge("token_feed_live", help))
	}
	return f
}

// Live reports whether both feeds are live: followed right now and caught
// up with everything committed before their streams opened. Only then may
// a cached authentication be trusted without asking: an event missed while
// a stream was down (a revocation) is applied only once its replay reaches
// the head.
func (f *Followers) Live() bool { return f.agents.Live() && f.credentials.Live() }

// CredentialsDownFor is how long the credentials feed has not been live (0
// while it is).
func (f *Followers) CredentialsDownFor() time.Duration { return f.credentials.DownFor() }

// Run follows both feeds into h until ctx ends.
func (f *Followers) Run(ctx context.Context, h *Handlers) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return f.agents.Run(ctx, libfeed.Each(h.handleAgent)) })
	g.Go(func() error { return f.credentials.Run(ctx, libfeed.Each(h.handleCredential)) })
	return g.Wait()
}
