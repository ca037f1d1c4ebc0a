package state

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentryagent/agentidp/libs/revocation"
)

// Revocations follows the token service's revocation channel
// (libs/revocation.Channel): every revoked jti is announced there, and this
// replica drops the verified token at once. Each (re)subscription starts a
// new epoch: a cached token whose jti was checked in an older epoch is
// checked against Redis again, since announcements may have been missed
// while the subscription was down.
type Revocations struct {
	rdb      *redis.Client
	logger   *slog.Logger
	onRevoke func(jti string)
	onLive   func()

	epoch    atomic.Uint64
	live     atomic.Bool
	everLive atomic.Bool

	// recent remembers jtis announced lately, for a check that read Redis
	// just before the revocation and stores its answer just after the
	// announcement was handled.
	mu     sync.Mutex
	recent map[string]time.Time
}

// recentFor is how long an announced jti is remembered; far longer than a
// cache miss (a Redis round trip) can take.
const recentFor = 2 * time.Minute

// RevocationsConfig configures the subscriber.
type RevocationsConfig struct {
	Redis  *redis.Client
	Logger *slog.Logger
	// OnRevoke, if set, is told every revoked jti (the token cache drops it).
	OnRevoke func(jti string)
	// OnLive, if set, is called when a subscription is (re)established; it
	// must not block.
	OnLive func()
}

// NewRevocations returns a subscriber; Run starts it.
func NewRevocations(cfg RevocationsConfig) *Revocations {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Revocations{rdb: cfg.Redis, logger: cfg.Logger, onRevoke: cfg.OnRevoke, onLive: cfg.OnLive,
		recent: map[string]time.Time{}}
}

// Epoch is the current subscription's number and whether it is live.
func (r *Revocations) Epoch() (uint64, bool) { return r.epoch.Load(), r.live.Load() }

// EverLive reports whether the subscription was ever established.
func (r *Revocations) EverLive() bool { return r.everLive.Load() }

// RecentlyRevoked reports whether jti was announced in the last minutes.
func (r *Revocations) RecentlyRevoked(jti string) bool {
	r.mu.Lock()
	_, ok := r.recent[jti]
	r.mu.Unlock()
	return ok
}

// Run subscribes until ctx ends, resubscribing after failures.
func (r *Revocations) Run(ctx context.Context) error {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		progressed := r.subscribe(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if progressed {
			wait = 100 * time.Millisecond
		} else if wait < 5*time.Second {
			wait *= 2
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return nil
}

func (r *Revocations) subscribe(ctx context.Context) (progressed bool) {
	ps := r.rdb.Subscribe(ctx, revocation.Channel)
	defer ps.Close()
	// Reads do not watch ctx: closing the subscription ends a blocked one.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			ps.Close()
		case <-done:
		}
	}()
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	for {
		msg, err := ps.ReceiveTimeout(ctx, 30*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				r.live.Store(false)
				return progressed
			}
			// ReceiveTimeout pings when idle; a timeout is not a failure.
			if isTimeout(err) {
				if perr := ps.Ping(ctx); perr == nil {
					continue
				}
			}
			if r.live.Swap(false) {
				r.logger.Warn("revocation channel lost; cached tokens are re-checked in Redis", "error", err)
			}
			return progressed
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				r.epoch.Add(1)
				r.live.Store(true)
				progressed = true
				if !r.everLive.Swap(true) {
					r.logger.Info("revocation channel subscribed", "channel", revocation.Channel)
				}
				if r.onLive != nil {
					r.onLive()
				}
			}
		case *redis.Message:
			r.revoked(m.Payload)
		case *redis.Pong:
		}
		select {
		case <-prune.C:
			r.pruneRecent()
		default:
		}
	}
}

func (r *Revocations) revoked(jti string) {
	if jti == "" || len(jti) > 256 {
		return
	}
	r.mu.Lock()
	r.recent[jti] = time.Now()
	r.mu.Unlock()
	if r.onRevoke != nil {
		r.onRevoke(jti)
	}
}

func (r *Revocations) pruneRecent() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for jti, at := range r.recent {
		if time.Since(at) > recentFor {
			delete(r.recent, jti)
		}
	}
}

func isTimeout(err error) bool {
	type timeout interface{ Timeout() bool }
	t, ok := err.(timeout)
	return ok && t.Timeout()
}

// Record reads the shared revocation record (libs/revocation) that the
// token service writes: revoked jtis and revoked credentials.
type Record struct{ RDB redis.Cmdable }

// Revoked reports, in one round trip, whether the jti and the credential
// were revoked.
func (r Record) Revoked(ctx context.Context, jti, credentialID string) (jtiRevoked, credRevoked bool, err error) {
	pipe := r.RDB.Pipeline()
	j := pipe.Exists(ctx, revocation.JTIKey(jti))
	var c *redis.IntCmd
	if credentialID != "" {
		c = pipe.Exists(ctx, revocation.CredentialKey(credentialID))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return false, false, err
	}
	return j.Val() > 0, c != nil && c.Val() > 0, nil
}
