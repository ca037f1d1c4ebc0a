// Package ratelimit is AgentIdP's one rate limiter: GCRA in Redis, shared
// by every replica, and the local reservations that let a busy replica pay
// for several requests in one Redis round trip.
package ratelimit

import (
	"math"
	"strconv"
	"time"
)

// Limit is a bucket's limit: PerSecond sustained, Burst at once.
type Limit struct {
	PerSecond float64
	Burst     int
}

// GCRA returns the limit as GCRA's emission interval and burst tolerance
// (interval × (burst − 1)), in µs, the unit of the scripts' clock;
// (0, 0) for a limit without a rate.
func (l Limit) GCRA() (interval, tau int64) {
	if l.PerSecond <= 0 {
		return 0, 0
	}
	interval = int64(math.Ceil(1e6 / l.PerSecond))
	return interval, interval * int64(max(l.Burst, 1)-1)
}

// RetryAfter renders a wait as whole seconds for the Retry-After header
// (RFC 9110 §10.2.3), at least 1.
func RetryAfter(wait time.Duration) string {
	return strconv.FormatInt(max(1, int64(math.Ceil(wait.Seconds()))), 10)
}

func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
