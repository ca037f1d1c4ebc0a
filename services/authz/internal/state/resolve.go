package state

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sentryagent/agentidp/libs/metrics"
)

// Errors of Resolver.Agent.
var (
	// ErrNoAgent: the registry does not know the agent.
	ErrNoAgent = errors.New("state: unknown agent")
	// ErrUnavailable: the agent's state cannot be established now.
	ErrUnavailable = errors.New("state: agent state unavailable")
)

// Directory reads one agent from the registry (GetAgent); it returns
// ErrNoAgent when the registry does not know it.
type Directory interface {
	GetAgent(ctx context.Context, id string) (*Agent, error)
}

// Feed is the registry feed's state on this replica (a libs/feed
// Follower): live means caught up with everything committed before its
// stream opened.
type Feed interface {
	Live() bool
	EverLive() bool
	DownFor() time.Duration
}

// ResolverConfig configures a Resolver.
type ResolverConfig struct {
	Store     *Store
	Feed      Feed
	Directory Directory
	// MemoFor is how long an agent read from the registry is reused while
	// the feed is not live: the kill switch's bound in that mode. Default
	// 500ms.
	MemoFor time.Duration
	// StaleIfError: while the feed is down for less than this and the
	// registry does not answer either, the last known state is used
	// (nobody can change an agent while the registry is down). Default 5m;
	// negative: never.
	StaleIfError time.Duration
	Registerer   prometheus.Registerer
}

// Resolver answers "what is this agent's state?" from the projection
// while the registry feed is live, and from the registry itself when the
// feed does not know the agent or is not live.
type Resolver struct {
	cfg     ResolverConfig
	mu      sync.Mutex
	memo    map[string]memoEntry
	results *prometheus.CounterVec
}

type memoEntry struct {
	agent   *Agent
	expires time.Time
}

// NewResolver returns a resolver.
func NewResolver(cfg ResolverConfig) *Resolver {
	if cfg.MemoFor <= 0 {
		cfg.MemoFor = 500 * time.Millisecond
	}
	if cfg.StaleIfError == 0 {
		cfg.StaleIfError = 5 * time.Minute
	}
	r := &Resolver{cfg: cfg, memo: map[string]memoEntry{}, results: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "authz_agent_lookups_total",
		Help: "Agent states not answered by the live projection: registry (read from the registry), stale (registry down, last known state used), unavailable, unknown.",
	}, []string{"result"})}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(r.results)
	}
	return r
}

// Agent returns the agent's current state.
func (r *Resolver) Agent(ctx context.Context, id string) (*Agent, error) {
	if r.cfg.Feed.Live() {
		if a, ok := r.cfg.Store.Agent(id); ok {
			return a, nil
		}
		// A brand-new agent whose event has not arrived yet.
		a, err := r.lookup(ctx, id)
		if err != nil {
			return nil, err
		}
		r.cfg.Store.PutLookedUp(a)
		if cur, ok := r.cfg.Store.Agent(id); ok {
			return cur, nil
		}
		return a, nil
	}
	now := time.Now()
	k := key(id)
	r.mu.Lock()
	m, ok := r.memo[k]
	r.mu.Unlock()
	if ok && now.Before(m.expires) {
		return m.agent, nil
	}
	a, err := r.lookup(ctx, id)
	known, inStore := r.cfg.Store.Agent(id)
	switch {
	case err == nil:
		if inStore && known.RevokedThrough > a.RevokedThrough {
			a = NewAgent(a.ID, a.Status, a.Owner, a.Scopes, known.RevokedThrough, 0)
		}
		r.mu.Lock()
		if len(r.memo) > 65536 {
			clear(r.memo)
		}
		r.memo[k] = memoEntry{agent: a, expires: now.Add(r.cfg.MemoFor)}
		r.mu.Unlock()
		return a, nil
	case errors.Is(err, ErrUnavailable) && inStore && r.cfg.Feed.EverLive() && r.cfg.Feed.DownFor() < r.cfg.StaleIfError:
		r.results.WithLabelValues("stale").Inc()
		return known, nil
	}
	return nil, err
}

func (r *Resolver) lookup(ctx context.Context, id string) (*Agent, error) {
	a, err := r.cfg.Directory.GetAgent(ctx, id)
	switch {
	case err == nil:
		r.results.WithLabelValues("registry").Inc()
		return a, nil
	case errors.Is(err, ErrNoAgent):
		r.results.WithLabelValues("unknown").Inc()
		return nil, ErrNoAgent
	default:
		r.results.WithLabelValues("unavailable").Inc()
		return nil, errors.Join(ErrUnavailable, err)
	}
}
