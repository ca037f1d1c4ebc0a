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
