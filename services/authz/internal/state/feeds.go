package state

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/feed"
	credentialsv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	registryv1 "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	"github.com/sentryagent/agentidp/libs/metrics"
	"github.com/sentryagent/agentidp/libs/tokencheck"
)

// Source is one change feed as this replica follows it. It is live while
// its stream is open and everything committed before the stream opened has
// been applied (the server says how far that is: feed.HeadHeader).
type Source struct {
	name   string
	logger *slog.Logger
	onLive func()

	mu       sync.Mutex
	stream   uint64 // counts streams; a stale stream's callbacks are ignored
	head     int64
	applied  int64
	live     bool
	everLive atomic.Bool
	liveNow  atomic.Bool
	// downSince is when the source stopped being live (unix nanos; 0 while live).
	downSince atomic.Int64
}

func newSource(name string, logger *slog.Logger) *Source {
	s := &Source{name: name, logger: logger}
	s.downSince.Store(time.Now().UnixNano())
	return s
}

// Live reports whether the feed is followed and caught up right now.
func (s *Source) Live() bool { return s.liveNow.Load() }

// EverLive reports whether the feed ever caught up (start-up is over).
func (s *Source) EverLive() bool { return s.everLive.Load() }

// DownFor is how long the source has not been live (0 while live).
func (s *Source) DownFor() time.Duration {
	if d := s.downSince.Load(); d != 0 {
		return time.Since(time.Unix(0, d))
	}
	return 0
}

// opened records a new stream and where the feed ended when it opened.
// Without a head (a server that does not send one) the stream counts as
// caught up once it has been quiet for settle.
func (s *Source) opened(after, head int64, known bool, settle time.Duration) uint64 {
	s.mu.Lock()
	s.stream++
	id := s.stream
	s.applied = after
	if known {
		s.head = head
	} else {
		s.head = -1
	}
	s.mu.Unlock()
	if known {
		s.progress(id, after)
	} else {
		go func() {
			time.Sleep(settle)
			s.mu.Lock()
			if s.stream == id {
				s.head = s.applied
			}
			s.mu.Unlock()
			s.progress(id, -1)
		}()
	}
	return id
}

// progress records that events through seq were applied on stream id.
func (s *Source) progress(id uint64, seq int64) {
	s.mu.Lock()
	if s.stream != id {
		s.mu.Unlock()
		return
	}
	if seq > s.applied {
		s.applied = seq
	}
	became := !s.live && s.head >= 0 && s.applied >= s.head
	if became {
		s.live = true
	}
	s.mu.Unlock()
	if became {
		s.setLive(true)
	}
}

// failed records that stream id ended.
func (s *Source) failed(id uint64) {
	s.mu.Lock()
	if s.stream != id {
		s.mu.Unlock()
		return
	}
	s.live = false
	s.head = -2 // this stream can no longer catch up
	s.mu.Unlock()
	s.setLive(false)
}

func (s *Source) setLive(live bool) {
	if s.liveNow.Swap(live) == live {
		return
	}
	if live {
		s.downSince.Store(0)
		first := !s.everLive.Swap(true)
		s.logger.Info("change feed caught up", "feed", s.name, "first", first)
		if s.onLive != nil {
			s.onLive()
		}
	} else {
		s.downSince.Store(time.Now().UnixNano())
		s.logger.Warn("change feed not live", "feed", s.name)
	}
}

// memoryCursor resumes a feed where this process left it; a new process
// replays the feed from the start (the projection lives in memory).
type memoryCursor struct{ seq atomic.Int64 }

func (c *memoryCursor) Load(context.Context) (int64, error)     { return c.seq.Load(), nil }
func (c *memoryCursor) Save(_ context.Context, seq int64) error { c.seq.Store(seq); return nil }

// Followers keep the Store current from both feeds.
type Followers struct {
	store       *Store
	Agents      *Source
	Credentials *Source
	agentFeed   registryv1.AgentEventsServiceClient
	credFeed    credentialsv1.CredentialEventsServiceClient
	agentCursor memoryCursor
	credCursor  memoryCursor
	logger      *slog.Logger
	settle      time.Duration
	events      *prometheus.CounterVec
}

// FollowersConfig configures the followers.
type FollowersConfig struct {
	Store      *Store
	AgentFeed  registryv1.AgentEventsServiceClient
	CredFeed   credentialsv1.CredentialEventsServiceClient
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	OnLive     func()
	// Settle is used only with servers that do not send feed.HeadHeader.
	Settle time.Duration
}

// NewFollowers returns followers; RunAgents and RunCredentials start them.
func NewFollowers(cfg FollowersConfig) *Followers {
	if cfg.Settle <= 0 {
		cfg.Settle = 500 * time.Millisecond
	}
	f := &Followers{store: cfg.Store, agentFeed: cfg.AgentFeed, credFeed: cfg.CredFeed, logger: cfg.Logger, settle: cfg.Settle,
		Agents:      newSource("agents", cfg.Logger),
		Credentials: newSource("credentials", cfg.Logger),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Name: "authz_feed_events_total",
			Help: "Change-feed events applied to this replica's projection, by feed (agents, credentials).",
		}, []string{"feed"}),
	}
	f.Agents.onLive, f.Credentials.onLive = cfg.OnLive, cfg.OnLive
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(f.events)
		for _, src := range []*Source{f.Agents, f.Credentials} {
			cfg.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: metrics.Namespace, Name: "authz_feed_live",
				Help:        "1 while this replica follows the feed and has caught up with it.",
				ConstLabels: prometheus.Labels{"feed": src.name},
			}, func() float64 { return b2f(src.Live()) }))
		}
	}
	return f
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Live reports whether both feeds are live.
func (f *Followers) Live() bool { return f.Agents.Live() && f.Credentials.Live() }

// Ready reports whether both feeds caught up at least once.
func (f *Followers) Ready() bool { return f.Agents.EverLive() && f.Credentials.EverLive() }

// stream adapts a gRPC server stream to feed.Stream, reporting failures.
type stream[R any, E feed.Event] struct {
	recv   func() (*R, error)
	unwrap func(*R) E
	src    *Source
	id     uint64
}

func (s *stream[R, E]) Recv() (E, error) {
	r, err := s.recv()
	if err != nil {
		s.src.failed(s.id)
		var zero E
		return zero, err
	}
	return s.unwrap(r), nil
}

// RunAgents follows the registry's feed until ctx ends.
func (f *Followers) RunAgents(ctx context.Context) error {
	var current uint64
	open := func(ctx context.Context, after int64) (feed.Stream[*registryv1.AgentEvent], error) {
		s, err := f.agentFeed.WatchAgentEvents(ctx, &registryv1.WatchAgentEventsRequest{AfterSequence: after})
		if err != nil {
			f.Agents.failed(current)
			return nil, err
		}
		md, err := s.Header()
		if err != nil {
			f.Agents.failed(current)
			return nil, err
		}
		head, known := feed.HeadOf(md)
		current = f.Agents.opened(after, head, known, f.settle)
		return &stream[registryv1.WatchAgentEventsResponse, *registryv1.AgentEvent]{
			recv: s.Recv, unwrap: (*registryv1.WatchAgentEventsResponse).GetEvent, src: f.Agents, id: current,
		}, nil
	}
	handle := func(_ context.Context, batch []*registryv1.AgentEvent) error {
		events := make([]AgentEvent, 0, len(batch))
		for _, e := range batch {
			a := e.GetAgent()
			events = append(events, AgentEvent{Sequence: e.GetSequence(), Type: e.GetType(),
				OccurredAt: e.GetOccurredAt().AsTime(), AgentID: a.GetAgentId(), Status: a.GetStatus(), Owner: a.GetOwner(),
				Scopes: a.GetScopes(), RevokedThrough: tokencheck.RevokedThrough(a)})
		}
		f.store.ApplyAgents(events)
		f.events.WithLabelValues("agents").Add(float64(len(events)))
		f.Agents.progress(current, batch[len(batch)-1].GetSequence())
		return nil
	}
	return feed.Follow(ctx, open, &f.agentCursor, handle, feed.Config{Name: "agents", Logger: f.logger})
}

// RunCredentials follows the credentials service's feed until ctx ends.
func (f *Followers) RunCredentials(ctx context.Context) error {
	var current uint64
	open := func(ctx context.Context, after int64) (feed.Stream[*credentialsv1.CredentialEvent], error) {
		s, err := f.credFeed.WatchCredentialEvents(ctx, &credentialsv1.WatchCredentialEventsRequest{AfterSequence: after})
		if err != nil {
			f.Credentials.failed(current)
			return nil, err
		}
		md, err := s.Header()
		if err != nil {
			f.Credentials.failed(current)
			return nil, err
		}
		head, known := feed.HeadOf(md)
		current = f.Credentials.opened(after, head, known, f.settle)
		return &stream[credentialsv1.WatchCredentialEventsResponse, *credentialsv1.CredentialEvent]{
			recv: s.Recv, unwrap: (*credentialsv1.WatchCredentialEventsResponse).GetEvent, src: f.Credentials, id: current,
		}, nil
	}
	handle := func(_ context.Context, batch []*credentialsv1.CredentialEvent) error {
		events := make([]CredentialEvent, 0, len(batch))
		for _, e := range batch {
			events = append(events, CredentialEvent{Sequence: e.GetSequence(), Type: e.GetType(),
				OccurredAt: e.GetOccurredAt().AsTime(), CredentialID: e.GetCredentialId()})
		}
		f.store.ApplyCredentials(events, time.Now())
		f.events.WithLabelValues("credentials").Add(float64(len(events)))
		f.Credentials.progress(current, batch[len(batch)-1].GetSequence())
		return nil
	}
	return feed.Follow(ctx, open, &f.credCursor, handle, feed.Config{Name: "credentials", Logger: f.logger})
}
