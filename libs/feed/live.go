package feed

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sentryagent/agentidp/libs/metrics"
)

// A follower is live while its current stream is unbroken and everything
// up to the head its server announced when the stream opened has been
// handled. It is the one meaning of "live" for every consumer: a cache
// that must be complete (authz's projection, the token service's cached
// logins) trusts what it holds only while its feeds are live, because an
// event missed while the stream was down (a revocation) is applied only
// once the replay reaches the head.
type liveness struct {
	name   string
	logger *slog.Logger
	onLive func()

	mu     sync.Mutex
	stream uint64 // counts streams; a stale stream's news is ignored
	broken bool   // the current stream failed

	live     atomic.Bool
	everLive atomic.Bool
	// downSince is when the follower stopped being live (unix nanos; 0
	// while live). It starts at construction: not live yet.
	downSince atomic.Int64
}

func (l *liveness) init(name string, logger *slog.Logger, onLive func()) {
	l.name, l.logger, l.onLive = name, logger, onLive
	l.downSince.Store(time.Now().UnixNano())
}

// Live reports whether the feed is followed and caught up right now.
func (l *liveness) Live() bool { return l.live.Load() }

// EverLive reports whether the feed ever caught up in this process
// (start-up is over).
func (l *liveness) EverLive() bool { return l.everLive.Load() }

// DownFor is how long the follower has not been live: 0 while live, since
// construction if it never was.
func (l *liveness) DownFor() time.Duration {
	if d := l.downSince.Load(); d != 0 {
		return time.Since(time.Unix(0, d))
	}
	return 0
}

// Name is the feed's name (Config.Name).
func (l *liveness) Name() string { return l.name }

// LiveGauge returns a gauge named metrics.Namespace_name, labelled
// feed=Name(), that is 1 while the follower is live; each service
// registers its own (agentidp_authz_feed_live, agentidp_token_feed_live).
func (l *liveness) LiveGauge(name, help string) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: metrics.Namespace, Name: name, Help: help,
		ConstLabels: prometheus.Labels{"feed": l.name},
	}, func() float64 {
		if l.Live() {
			return 1
		}
		return 0
	})
}

// begin records that a new stream is being opened; it is not live until
// up is called with its id.
func (l *liveness) begin() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stream++
	l.broken = false
	return l.stream
}

// up records that stream id caught up with head.
func (l *liveness) up(id uint64, head int64) {
	l.mu.Lock()
	if id != l.stream || l.broken || l.live.Load() {
		l.mu.Unlock()
		return
	}
	l.live.Store(true)
	l.downSince.Store(0)
	first := !l.everLive.Swap(true)
	l.mu.Unlock()
	l.logger.Info("change feed live: caught up with its head", "feed", l.name, "head", head, "first", first)
	if l.onLive != nil {
		l.onLive()
	}
}

// end records that stream id failed (or was given up).
func (l *liveness) end(id uint64, err error) {
	l.mu.Lock()
	if id != l.stream || l.broken {
		l.mu.Unlock()
		return
	}
	l.broken = true
	was := l.live.Swap(false)
	if was {
		l.downSince.Store(time.Now().UnixNano())
	}
	l.mu.Unlock()
	if was && !errors.Is(err, context.Canceled) {
		l.logger.Warn("change feed not live", "feed", l.name, "error", err)
	}
}
