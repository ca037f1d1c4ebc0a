// Package ratelimit limits each agent's calls per bucket (the policy names
// the bucket and its limit) with GCRA in Redis, shared by every authz
// replica. A busy agent's replica reserves a few requests' worth of its
// limit at once, charged in Redis when reserved, so the hot path reaches
// Redis for a small fraction of a busy agent's calls and replicas together
// never admit more than the limit.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limit is a bucket's limit: PerSecond sustained, Burst at once.
type Limit struct {
	PerSecond float64
	Burst     int
}

// Config configures a Limiter.
type Config struct {
	Redis redis.Scripter
	// Window is how long reserved requests stay usable (and about how many
	// are reserved: a window's worth at the agent's recent rate); 0 charges
	// Redis for every request, exactly. Default 250ms.
	Window time.Duration
	// MaxReserve caps one reservation; default 64 (and never more than a
	// quarter of the burst).
	MaxReserve int
	Now        func() time.Time
}

// Limiter enforces limits.
type Limiter struct {
	cfg    Config
	seed   maphash.Seed
	shards [64]shard
}

type shard struct {
	mu      sync.Mutex
	buckets map[string]*allowance
}

// New returns a limiter.
func New(cfg Config) *Limiter {
	if cfg.Window < 0 {
		cfg.Window = 0
	}
	if cfg.MaxReserve <= 0 {
		cfg.MaxReserve = 64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{cfg: cfg, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = map[string]*allowance{}
	}
	return l
}

// Key is the Redis key of an agent's bucket; the hash tag keeps an agent's
// buckets in one Redis Cluster slot.
func Key(agentID, bucket string) string { return "authz:{" + agentID + "}:rl:" + bucket }

// Allow charges one request to the agent's bucket. When the bucket is
// empty it returns false and how long to wait. An error means Redis did
// not answer; the caller decides (the service lets the request through:
// rate limiting is protection, not authorization).
func (l *Limiter) Allow(ctx context.Context, agentID, bucket string, lim Limit) (bool, time.Duration, error) {
	if lim.PerSecond <= 0 {
		return false, time.Second, nil // a bucket with no rate admits nothing
	}
	key := Key(agentID, bucket)
	now := l.cfg.Now()
	s := &l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]
	s.mu.Lock()
	a := s.buckets[key]
	if a == nil {
		if len(s.buckets) >= 8192 {
			clear(s.buckets) // a flood of distinct agents: forget reservations
		}
		a = &allowance{}
		s.buckets[key] = a
	}
	a.tick(now, l.cfg.Window)
	a.count++
	if wait := a.deniedUntil.Sub(now); wait > 0 {
		s.mu.Unlock()
		return false, wait, nil
	}
	if a.remaining > 0 && now.Before(a.expires) {
		a.remaining--
		s.mu.Unlock()
		return true, 0, nil
	}
	want := 1
	if l.cfg.Window > 0 {
		want = min(1+a.last, l.cfg.MaxReserve, max(1, lim.Burst/4))
	}
	s.mu.Unlock()

	granted, wait, err := l.charge(ctx, key, lim, want)
	if err != nil {
		return false, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if granted == 0 {
		// Refuse locally until the limit frees a slot (at most a window),
		// so a client hammering its limit does not hammer Redis too.
		a.deniedUntil = now.Add(min(wait, max(l.cfg.Window, time.Millisecond)))
		return false, wait, nil
	}
	if !now.Before(a.expires) {
		a.remaining = 0
	}
	a.remaining += granted - 1
	a.expires = now.Add(l.cfg.Window)
	return true, 0, nil
}

// allowance is a bucket's share reserved by this replica, and the
// bucket's recent request count here (to size the next reservation).
type allowance struct {
	remaining   int
	expires     time.Time
	deniedUntil time.Time
	windowStart time.Time
	count, last int
}

func (a *allowance) tick(now time.Time, window time.Duration) {
	if window <= 0 {
		return
	}
	switch {
	case now.Sub(a.windowStart) >= 2*window:
		a.windowStart, a.count, a.last = now, 0, 0
	case now.Sub(a.windowStart) >= window:
		a.windowStart, a.last, a.count = a.windowStart.Add(window), a.count, 0
	}
}

// gcra charges up to ARGV[3] requests, as many as fit, to the theoretical
// arrival time in KEYS[1] (µs). ARGV[1] is the emission interval in µs,
// ARGV[2] the burst tolerance in µs. It answers {granted, wait µs}.
var gcra = redis.NewScript(`
local interval = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local granted = math.floor((tau - (tat - now)) / interval) + 1
if granted < 1 then return {0, string.format('%d', tat - now - tau)} end
granted = math.min(granted, tonumber(ARGV[3]))
tat = tat + granted * interval
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
return {granted, '0'}
`)

func (l *Limiter) charge(ctx context.Context, key string, lim Limit, want int) (int, time.Duration, error) {
	interval := int64(math.Ceil(1e6 / lim.PerSecond))
	burst := max(lim.Burst, 1)
	tau := interval * int64(burst-1)
	res, err := gcra.Run(ctx, l.cfg.Redis, []string{key}, interval, tau, want).Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("rate limit: %w", err)
	}
	if len(res) != 2 {
		return 0, 0, errors.New("rate limit: short reply")
	}
	granted, _ := res[0].(int64)
	waitStr, _ := res[1].(string)
	waitUS, _ := strconv.ParseInt(waitStr, 10, 64)
	wait := time.Duration(waitUS) * time.Microsecond
	if granted == 0 && wait <= 0 {
		wait = time.Duration(interval) * time.Microsecond
	}
	return int(granted), wait, nil
}

// RetryAfter renders a wait as whole seconds for the Retry-After header
// (RFC 9110 §10.2.3), at least 1.
func RetryAfter(wait time.Duration) string {
	return strconv.FormatInt(max(1, int64(math.Ceil(wait.Seconds()))), 10)
}
