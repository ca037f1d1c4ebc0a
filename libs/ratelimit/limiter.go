package ratelimit

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config configures a Limiter.
type Config struct {
	Redis redis.Scripter
	// Window is how long reserved requests stay usable (and about how many
	// are reserved: a window's worth at the bucket's recent rate); 0
	// charges Redis for every request, exactly.
	Window time.Duration
	// MaxReserve caps one reservation; default 64 (and never more than a
	// quarter of the burst).
	MaxReserve int
	Now        func() time.Time
}

// Limiter charges each request to its bucket: from this replica's
// reservations when it holds one, else in Redis.
type Limiter struct {
	rdb      redis.Scripter
	now      func() time.Time
	reserved *Reservations
}

// New returns a limiter.
func New(cfg Config) *Limiter {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{rdb: cfg.Redis, now: cfg.Now, reserved: NewReservations(cfg.Window, cfg.MaxReserve)}
}

// Allow charges one request to the bucket key. When the bucket is empty
// it returns false and how long to wait; the request is not charged. A
// limit without a rate admits nothing. An error means Redis did not
// answer; the caller decides (rate limiting protects, it does not
// authorize: AgentIdP's services let the request through).
func (l *Limiter) Allow(ctx context.Context, key string, lim Limit) (bool, time.Duration, error) {
	if lim.PerSecond <= 0 {
		return false, time.Second, nil
	}
	now := l.now()
	ok, denied := l.reserved.Take(key, now)
	switch {
	case ok:
		return true, 0, nil
	case denied > 0:
		return false, denied, nil
	}
	n, wait, err := Charge(ctx, l.rdb, key, lim, l.reserved.Want(key, lim.Burst, now), false).Result()
	if err != nil {
		return false, 0, err
	}
	if n == 0 {
		if wait <= 0 {
			interval, _ := lim.GCRA()
			wait = micros(interval)
		}
		l.reserved.Refuse(key, wait, now)
		return false, wait, nil
	}
	l.reserved.Grant(key, n, now)
	return true, 0, nil
}
