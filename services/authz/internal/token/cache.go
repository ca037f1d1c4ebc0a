// Package token is authz's memory of verified access tokens (verification
// itself is libs/accesstoken's): each with its policy input prebuilt, until
// it expires, is revoked, its key is withdrawn or nobody presents it.
package token

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/sentryagent/agentidp/libs/accesstoken"
)

// Key names a cached token: its SHA-256, so that the cache never holds a
// token and a lookup cannot be steered to another token's entry.
type Key [32]byte

// KeyOf hashes a raw token.
func KeyOf(raw string) Key { return sha256.Sum256([]byte(raw)) }

// Entry is a verified token. Verification (signature, claims) never goes
// stale before Expiry; whether its jti was revoked is re-checked whenever
// the revocation channel's epoch changes (see internal/state.Revocations).
type Entry struct {
	Claims *accesstoken.Verified
	// Input is input.token for the policy, built once.
	Input ast.Value
	// checked is the revocation epoch in which the jti was last found not
	// revoked in Redis (0: never).
	checked atomic.Uint64
	// used is when the entry was last stored or found (Unix seconds).
	used atomic.Int64
}

// NewEntry builds an entry and its policy input.
func NewEntry(c *accesstoken.Verified) *Entry {
	scopes := make([]*ast.Term, len(c.Scopes))
	for i, s := range c.Scopes {
		scopes[i] = ast.StringTerm(s)
	}
	aud := make([]*ast.Term, len(c.Audience))
	for i, s := range c.Audience {
		aud[i] = ast.StringTerm(s)
	}
	items := [][2]*ast.Term{
		ast.Item(ast.StringTerm("iss"), ast.StringTerm(c.Issuer)),
		ast.Item(ast.StringTerm("sub"), ast.StringTerm(c.Subject)),
		ast.Item(ast.StringTerm("aud"), ast.ArrayTerm(aud...)),
		ast.Item(ast.StringTerm("exp"), ast.IntNumberTerm(int(c.Expiry))),
		ast.Item(ast.StringTerm("iat"), ast.IntNumberTerm(int(c.IssuedAt))),
		ast.Item(ast.StringTerm("jti"), ast.StringTerm(c.ID)),
		ast.Item(ast.StringTerm("client_id"), ast.StringTerm(c.ClientID)),
		ast.Item(ast.StringTerm("scope"), ast.StringTerm(c.Scope)),
		ast.Item(ast.StringTerm("scopes"), ast.ArrayTerm(scopes...)),
	}
	if c.NotBefore != 0 {
		items = append(items, ast.Item(ast.StringTerm("nbf"), ast.IntNumberTerm(int(c.NotBefore))))
	}
	if c.CredentialID != "" {
		items = append(items, ast.Item(ast.StringTerm("credential_id"), ast.StringTerm(c.CredentialID)))
	}
	if c.Owner != "" {
		items = append(items, ast.Item(ast.StringTerm("owner"), ast.StringTerm(c.Owner)))
	}
	return &Entry{Claims: c, Input: ast.NewObject(items...)}
}

// Checked reports whether the jti was found not revoked in epoch.
func (e *Entry) Checked(epoch uint64) bool { return epoch != 0 && e.checked.Load() == epoch }

// MarkChecked records that the jti was found not revoked in epoch.
func (e *Entry) MarkChecked(epoch uint64) { e.checked.Store(epoch) }

// Cache holds verified tokens, sharded: each until its expiry or until
// nobody has presented it for IdleFor, whichever comes first, and a
// bounded number per shard. Clients usually take a new token long before
// the old one expires, so without the idle bound the cache would hold
// every token of the last token lifetime (15 minutes by default); with it,
// memory follows the tokens in use. A token dropped while still valid is
// simply verified again (a signature check) the next time it comes.
type Cache struct {
	shards   [64]cacheShard
	perShard int
	now      func() time.Time
}

// IdleFor is how long an unused token stays cached.
const IdleFor = time.Minute

const idleSeconds = int64(IdleFor / time.Second)

type cacheShard struct {
	mu      sync.RWMutex
	entries map[Key]*Entry
	byJTI   map[string]Key
	// swept is when the shard was last cleared of expired and idle
	// entries (Unix seconds); Put sweeps every IdleFor/4.
	swept int64
}

// NewCache holds up to size tokens (at least 64).
func NewCache(size int, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	c := &Cache{perShard: max(1, size/64), now: now}
	for i := range c.shards {
		c.shards[i].entries = map[Key]*Entry{}
		c.shards[i].byJTI = map[string]Key{}
	}
	return c
}

func (c *Cache) shard(k Key) *cacheShard { return &c.shards[k[0]&63] }

// Get returns the entry of a token still within its lifetime.
func (c *Cache) Get(k Key) *Entry {
	s := c.shard(k)
	s.mu.RLock()
	e := s.entries[k]
	s.mu.RUnlock()
	if e == nil {
		return nil
	}
	now := c.now().Unix()
	if now >= e.Claims.Expiry {
		return nil
	}
	if e.used.Load() != now {
		e.used.Store(now)
	}
	return e
}

// Put stores an entry.
func (c *Cache) Put(k Key, e *Entry) {
	s := c.shard(k)
	now := c.now().Unix()
	e.used.Store(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	if now-s.swept >= idleSeconds/4 {
		s.sweep(now, now-idleSeconds)
		s.swept = now
	}
	if len(s.entries) >= c.perShard {
		s.evict(now, c.perShard)
	}
	if old, ok := s.byJTI[e.Claims.ID]; ok && old != k {
		delete(s.entries, old)
	}
	s.entries[k] = e
	s.byJTI[e.Claims.ID] = k
}

// sweep drops entries expired at now or last used before idleSince.
func (s *cacheShard) sweep(now, idleSince int64) {
	for k, e := range s.entries {
		if now >= e.Claims.Expiry || e.used.Load() < idleSince {
			s.drop(k, e)
		}
	}
}

// evict drops expired entries, then arbitrary ones, until a quarter of the
// shard is free.
func (s *cacheShard) evict(now int64, limit int) {
	s.sweep(now, 0)
	for k, e := range s.entries {
		if len(s.entries) <= limit*3/4 {
			break
		}
		s.drop(k, e)
	}
}

func (s *cacheShard) drop(k Key, e *Entry) {
	delete(s.entries, k)
	if s.byJTI[e.Claims.ID] == k {
		delete(s.byJTI, e.Claims.ID)
	}
}

// DropJTI forgets the token with this jti (it was revoked).
func (c *Cache) DropJTI(jti string) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		if k, ok := s.byJTI[jti]; ok {
			if e := s.entries[k]; e != nil {
				s.drop(k, e)
			} else {
				delete(s.byJTI, jti)
			}
		}
		s.mu.Unlock()
	}
}

// DropKeys forgets tokens signed by any of these key ids (withdrawn from
// the JWKS).
func (c *Cache) DropKeys(kids []string) {
	gone := map[string]bool{}
	for _, k := range kids {
		gone[k] = true
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, e := range s.entries {
			if gone[e.Claims.KeyID] {
				s.drop(k, e)
			}
		}
		s.mu.Unlock()
	}
}

// Len counts entries (metrics).
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.RLock()
		n += len(c.shards[i].entries)
		c.shards[i].mu.RUnlock()
	}
	return n
}
