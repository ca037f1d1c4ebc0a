package credential

import (
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sentryagent/agentidp/services/credentials/internal/secret"
)

// DigestCache keeps SHA-256 digests of Vault-held secret versions (never
// the secrets) so that a warm verification costs no Vault round trip. A KV
// version never changes once written, so an entry cannot go stale; it is
// bounded in time (TTL) and size anyway, and dropped locally on rotate and
// revoke. Whether a version is still acceptable is decided by the
// credential row, read from Postgres on every verification, so revocation
// on one replica takes effect on all at once.
type DigestCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[uuid.UUID]map[int64]cacheEntry
	size    int
}

type cacheEntry struct {
	digest  secret.Digest
	expires time.Time
}

// NewDigestCache returns a cache, or nil (no caching) when ttl or max is 0.
func NewDigestCache(ttl time.Duration, max int) *DigestCache {
	if ttl <= 0 || max <= 0 {
		return nil
	}
	return &DigestCache{ttl: ttl, max: max, now: time.Now, entries: map[uuid.UUID]map[int64]cacheEntry{}}
}

// Get returns the digest of a credential's KV version if cached and fresh.
func (c *DigestCache) Get(id uuid.UUID, version int64) (secret.Digest, bool) {
	if c == nil {
		return secret.Digest{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id][version]
	if !ok {
		return secret.Digest{}, false
	}
	if !c.now().Before(e.expires) {
		c.remove(id, version)
		return secret.Digest{}, false
	}
	return e.digest, true
}

// Put caches a digest, evicting expired entries (then arbitrary ones) when full.
func (c *DigestCache) Put(id uuid.UUID, version int64, d secret.Digest) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.size >= c.max {
		c.evict(now)
	}
	versions := c.entries[id]
	if versions == nil {
		versions = map[int64]cacheEntry{}
		c.entries[id] = versions
	}
	if _, ok := versions[version]; !ok {
		c.size++
	}
	versions[version] = cacheEntry{digest: d, expires: now.Add(c.ttl)}
}

// Invalidate drops every cached version of the credentials.
func (c *DigestCache) Invalidate(ids ...uuid.UUID) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		c.size -= len(c.entries[id])
		delete(c.entries, id)
	}
}

// Len is the number of cached digests.
func (c *DigestCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

func (c *DigestCache) remove(id uuid.UUID, version int64) {
	if _, ok := c.entries[id][version]; ok {
		delete(c.entries[id], version)
		c.size--
		if len(c.entries[id]) == 0 {
			delete(c.entries, id)
		}
	}
}

// evict removes expired entries, then, if that freed less than a tenth of
// the cache, arbitrary ones (map order) until it has.
func (c *DigestCache) evict(now time.Time) {
	for id, versions := range c.entries {
		for v, e := range versions {
			if !now.Before(e.expires) {
				c.remove(id, v)
			}
		}
	}
	target := c.max - c.max/10 - 1
	for id, versions := range c.entries {
		if c.size <= target {
			return
		}
		c.size -= len(versions)
		delete(c.entries, id)
	}
}
