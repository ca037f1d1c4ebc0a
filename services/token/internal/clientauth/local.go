package clientauth

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/sentryagent/agentidp/services/token/internal/authcache"
)

// localCache keeps, per replica and for at most ttl, what the last Redis
// lookup of a client's credentials returned, so that a busy client costs
// no Redis round trip at all. It is consulted only while both change feeds
// are live, and this replica's own followers drop a client's entries the
// moment an event about the agent arrives (Forget); ttl bounds the rest
// (docs/token.md: the staleness bound).
type localCache struct {
	ttl    time.Duration
	seed   maphash.Seed
	shards [64]localShard
}

type localShard struct {
	mu      sync.Mutex
	clients map[string]*localClient
}

type localClient struct {
	// gen changes on every Forget: a lookup that started before it must
	// not store what it read.
	gen     uint64
	entries map[string]localEntry // by MAC
	// The client's rate-limit allowance reserved in Redis (see allowance).
	allowance allowance
}

type localEntry struct {
	found   authcache.Found
	expires time.Time
}

// maxLocalEntries bounds one shard; beyond it the shard is cleared (a
// crude bound that only matters under a flood of distinct clients).
const maxLocalEntries = 8192

func newLocalCache(ttl time.Duration) *localCache {
	c := &localCache{ttl: ttl, seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].clients = map[string]*localClient{}
	}
	return c
}

func (c *localCache) shard(clientID string) *localShard {
	return &c.shards[maphash.String(c.seed, clientID)%uint64(len(c.shards))]
}

// client returns the client's state, creating it; call with the shard locked.
func (s *localShard) client(clientID string) *localClient {
	lc := s.clients[clientID]
	if lc == nil {
		if len(s.clients) >= maxLocalEntries {
			clear(s.clients)
		}
		lc = &localClient{entries: map[string]localEntry{}}
		s.clients[clientID] = lc
	}
	return lc
}

// get returns a fresh local copy of a lookup.
func (c *localCache) get(clientID, mac string, now time.Time) (authcache.Found, bool) {
	s := c.shard(clientID)
	s.mu.Lock()
	defer s.mu.Unlock()
	lc := s.clients[clientID]
	if lc == nil {
		return authcache.Found{}, false
	}
	e, ok := lc.entries[mac]
	if !ok || !now.Before(e.expires) {
		return authcache.Found{}, false
	}
	return e.found, true
}

// generation is read before a Redis lookup and passed to put.
func (c *localCache) generation(clientID string) uint64 {
	s := c.shard(clientID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if lc := s.clients[clientID]; lc != nil {
		return lc.gen
	}
	return 0
}

// put stores a lookup unless the client was forgotten since gen was read.
func (c *localCache) put(clientID, mac string, f authcache.Found, gen uint64, now time.Time) {
	s := c.shard(clientID)
	s.mu.Lock()
	defer s.mu.Unlock()
	lc := s.client(clientID)
	if lc.gen != gen {
		return
	}
	if len(lc.entries) >= 16 { // a client has one or two secrets; more is junk
		clear(lc.entries)
	}
	lc.entries[mac] = localEntry{found: f, expires: now.Add(c.ttl)}
}

// forget drops everything cached about a client (an event about its agent
// or credentials arrived).
func (c *localCache) forget(clientID string) {
	s := c.shard(clientID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if lc := s.clients[clientID]; lc != nil {
		lc.gen++
		clear(lc.entries)
	}
}

// serve answers a request from memory: a fresh copy of a lookup that
// found this secret's entry (which proves the secret) and, when the client
// is rate limited, a rate-limit token this replica reserved earlier. Every
// request of a known client is counted, to size its next reservation.
func (c *localCache) serve(clientID, mac string, now time.Time, limited bool) (authcache.Found, bool) {
	s := c.shard(clientID)
	s.mu.Lock()
	defer s.mu.Unlock()
	lc := s.clients[clientID]
	if lc == nil {
		return authcache.Found{}, false
	}
	if limited {
		lc.allowance.note(now)
	}
	e, ok := lc.entries[mac]
	if !ok || !now.Before(e.expires) {
		return authcache.Found{}, false
	}
	if limited && !lc.allowance.use(now) {
		return authcache.Found{}, false
	}
	return e.found, true
}

// addAllowance records tokens reserved in Redis beyond the one in use.
func (c *localCache) addAllowance(clientID string, extra int, now time.Time) {
	s := c.shard(clientID)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.client(clientID).allowance.add(extra, now)
}

func (c *localCache) reserveSize(clientID string, now time.Time, max int) int {
	s := c.shard(clientID)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client(clientID).allowance.want(now, max)
}

// allowance is a client's share of its rate limit reserved in Redis by
// this replica. Reservations are charged in Redis when made, so replicas
// together never admit more than the limit; tokens unused within
// allowanceWindow are forfeited. Only busy clients reserve more than one
// at a time: the size follows the client's rate over the last window,
// so a client well under its limit is counted exactly.
type allowance struct {
	remaining int
	expires   time.Time
	// Requests in the current and the previous window.
	windowStart time.Time
	count, last int
}

const allowanceWindow = 250 * time.Millisecond

func (a *allowance) tick(now time.Time) {
	switch {
	case now.Sub(a.windowStart) >= 2*allowanceWindow:
		a.windowStart, a.count, a.last = now, 0, 0
	case now.Sub(a.windowStart) >= allowanceWindow:
		a.windowStart, a.last, a.count = a.windowStart.Add(allowanceWindow), a.count, 0
	}
}

// take counts a request and consumes a reserved token for it, if any.
func (a *allowance) take(now time.Time) bool {
	a.note(now)
	return a.use(now)
}

// note counts a request of the client.
func (a *allowance) note(now time.Time) {
	a.tick(now)
	a.count++
}

// use consumes a reserved token, if one is left.
func (a *allowance) use(now time.Time) bool {
	if a.remaining > 0 && now.Before(a.expires) {
		a.remaining--
		return true
	}
	return false
}

func (a *allowance) add(extra int, now time.Time) {
	if !now.Before(a.expires) {
		a.remaining = 0
	}
	a.remaining += extra
	a.expires = now.Add(allowanceWindow)
}

// want is the reservation size: about one window's worth of requests at
// the client's recent rate, at least 1, at most max.
func (a *allowance) want(now time.Time, max int) int {
	a.tick(now)
	return min(max, 1+a.last)
}
