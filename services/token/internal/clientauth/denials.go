package clientauth

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sentryagent/agentidp/services/token/internal/authcache"
)

// denials is what this replica learnt from Redis about empty failure
// buckets: until when each refuses. A request from a source (or for a
// client from a source) that is refused here costs no Redis round trip,
// so a guesser hammering an empty bucket does not hammer Redis too.
// Refusing locally until the time Redis gave is exact: nothing refills a
// failure bucket faster than its rate.
type denials struct {
	seed maphash.Seed
	// latest bounds every entry's expiry (unix ns): the common case, no
	// denial at all, costs one atomic load and no lock.
	latest atomic.Int64
	shards [16]denialShard
}

type denialShard struct {
	mu    sync.Mutex
	until map[string]time.Time
}

// maxDenials bounds one shard; beyond it the shard is cleared (Redis
// still refuses: only the round trip saved is lost).
const maxDenials = 4096

func newDenials() *denials {
	d := &denials{seed: maphash.MakeSeed()}
	for i := range d.shards {
		d.shards[i].until = map[string]time.Time{}
	}
	return d
}

func pairKey(clientID, source string) string { return "p\x00" + clientID + "\x00" + source }
func sourceOnlyKey(source string) string     { return "s\x00" + source }

func (d *denials) shard(key string) *denialShard {
	return &d.shards[maphash.String(d.seed, key)%uint64(len(d.shards))]
}

// add refuses key for wait from now.
func (d *denials) add(key string, now time.Time, wait time.Duration) {
	if wait <= 0 {
		return
	}
	until := now.Add(wait)
	s := d.shard(key)
	s.mu.Lock()
	if len(s.until) >= maxDenials {
		clear(s.until)
	}
	if until.After(s.until[key]) {
		s.until[key] = until
	}
	s.mu.Unlock()
	for {
		cur := d.latest.Load()
		if until.UnixNano() <= cur || d.latest.CompareAndSwap(cur, until.UnixNano()) {
			return
		}
	}
}

// refused tells how long key is still refused (0: not).
func (d *denials) refused(key string, now time.Time) time.Duration {
	if now.UnixNano() >= d.latest.Load() {
		return 0
	}
	s := d.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.until[key]
	if !ok {
		return 0
	}
	if !now.Before(until) {
		delete(s.until, key)
		return 0
	}
	return until.Sub(now)
}

// check tells whether a request for clientID from source is refused, by
// which bucket and for how long.
func (d *denials) check(clientID, source string, now time.Time) (authcache.Bucket, time.Duration) {
	if now.UnixNano() >= d.latest.Load() {
		return "", 0
	}
	if w := d.refused(sourceOnlyKey(source), now); w > 0 {
		return authcache.BucketSource, w
	}
	if w := d.refused(pairKey(clientID, source), now); w > 0 {
		return authcache.BucketClientSource, w
	}
	return "", 0
}

// sourceKey names a source address's buckets: an IPv4 address as it is,
// an IPv6 address by its /64 (a host commonly holds a whole /64, so a
// per-address limit would be none), anything else (a caller not behind
// Envoy has none) as it is.
func sourceKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
