package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"
)

// Reservations are this replica's shares of its buckets' limits: a busy
// bucket is charged in Redis for several requests at once (about a
// window's worth at its recent rate here), which this replica then admits
// from memory until the window ends; what is left unused then is
// forfeited. Reservations are charged when made, so replicas together
// never admit more than the limit, and a bucket well under its limit
// reserves one request at a time and is counted exactly.
//
// The caller charges Redis (Charge, or a script built with Script) and
// reports the answer: Take, then on a miss Want, the charge, and Grant or
// Refuse.
type Reservations struct {
	window time.Duration
	max    int
	seed   maphash.Seed
	shards [64]reserveShard
}

type reserveShard struct {
	mu      sync.Mutex
	buckets map[string]*allowance
}

// maxReserved bounds one shard; beyond it the shard is cleared (a flood
// of distinct buckets: their reservations are forfeited early).
const maxReserved = 8192

// NewReservations returns reservations that last window (0: none, every
// request is charged in Redis by itself) and hold at most max requests
// per bucket (default 64, and never more than a quarter of the burst).
func NewReservations(window time.Duration, max int) *Reservations {
	if max <= 0 {
		max = 64
	}
	r := &Reservations{window: window, max: max, seed: maphash.MakeSeed()}
	if r.window < 0 {
		r.window = 0
	}
	for i := range r.shards {
		r.shards[i].buckets = map[string]*allowance{}
	}
	return r
}

// lock returns key's allowance with its shard locked; the caller unlocks.
func (r *Reservations) lock(key string) (*allowance, *sync.Mutex) {
	s := &r.shards[maphash.String(r.seed, key)%uint64(len(r.shards))]
	s.mu.Lock()
	a := s.buckets[key]
	if a == nil {
		if len(s.buckets) >= maxReserved {
			clear(s.buckets)
		}
		a = &allowance{}
		s.buckets[key] = a
	}
	return a, &s.mu
}

// Take counts a request to key and admits it with a reserved request:
// true. Otherwise denied > 0 is how long key stays refused here (Refuse),
// and 0 that Redis must be charged.
func (r *Reservations) Take(key string, now time.Time) (ok bool, denied time.Duration) {
	a, mu := r.lock(key)
	defer mu.Unlock()
	a.tick(now, r.window)
	a.count++
	if wait := a.deniedUntil.Sub(now); wait > 0 {
		return false, wait
	}
	if a.remaining > 0 && now.Before(a.expires) {
		a.remaining--
		return true, 0
	}
	return false, 0
}

// Note counts a request to key that reserves nothing (it is not, or not
// yet, to be charged), so that the next reservation follows the bucket's
// rate.
func (r *Reservations) Note(key string, now time.Time) {
	a, mu := r.lock(key)
	defer mu.Unlock()
	a.tick(now, r.window)
	a.count++
}

// Want is how many requests to charge key for at once: about one
// window's worth at its rate over the last window, at least 1, at most
// max and a quarter of burst.
func (r *Reservations) Want(key string, burst int, now time.Time) int {
	if r.window <= 0 {
		return 1
	}
	a, mu := r.lock(key)
	defer mu.Unlock()
	a.tick(now, r.window)
	return min(1+a.last, r.max, max(1, burst/4))
}

// Grant records that Redis charged n requests to key, one of them for the
// request at hand: the others are this replica's until the window ends.
func (r *Reservations) Grant(key string, n int, now time.Time) {
	if n <= 1 || r.window <= 0 {
		return
	}
	a, mu := r.lock(key)
	defer mu.Unlock()
	if !now.Before(a.expires) {
		a.remaining = 0
	}
	a.remaining += n - 1
	a.expires = now.Add(r.window)
}

// Refuse records that Redis refused key for wait: it is refused here
// until its next slot, at most a window (a millisecond without
// reservations), so that a client hammering its limit does not hammer
// Redis too.
func (r *Reservations) Refuse(key string, wait time.Duration, now time.Time) {
	a, mu := r.lock(key)
	defer mu.Unlock()
	a.deniedUntil = now.Add(min(wait, max(r.window, time.Millisecond)))
}

// allowance is one bucket's reservation here and its recent request
// count (this window's and the last one's) to size the next.
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
