// Package clientauth is the token service's hot path: it authenticates a
// client from the Redis cache when it can prove the cached answer is still
// current, and asks the credentials service otherwise. See docs/token.md
// for the invalidation design and its staleness bound.
package clientauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"

	"hash"
	"log/slog"
	"sync"
	"time"

	"github.com/sentryagent/agentidp/libs/apierror"
	"github.com/sentryagent/agentidp/services/token/internal/authcache"
	"github.com/sentryagent/agentidp/services/token/internal/oauth"
)

// Cache is the Redis side of the hot path.
type Cache interface {
	Lookup(ctx context.Context, q authcache.Lookup) (authcache.Found, error)
	PutEntry(ctx context.Context, clientID, mac string, e authcache.Entry, ttl time.Duration) error
	DropEntry(ctx context.Context, clientID, mac string) error
}

// Verified is the credentials service's answer for a valid secret.
type Verified struct {
	AgentID      string
	CredentialID string
	Scopes       []string
	AgentStatus  string
	Owner        string
	ValidUntil   time.Time // zero: never
}

// Verifier checks a client secret with the credentials service. Every
// client mistake is an error of kind Unauthenticated; a dependency that is
// down is any other error.
type Verifier interface {
	Verify(ctx context.Context, clientID, secret string) (Verified, error)
}

// Feeds tells whether this replica's change feeds are live (libs/feed:
// followed right now and caught up with everything committed before their
// streams opened); only then can a cached answer be trusted without asking.
type Feeds interface {
	Live() bool
	// CredentialsDownFor is how long the credentials feed has not been
	// live (0 while it is): a revocation may have been missed for that long.
	CredentialsDownFor() time.Duration
}

// Config configures an Authenticator.
type Config struct {
	Cache    Cache
	Verifier Verifier
	Feeds    Feeds
	// CacheKey keys the HMAC that names cache entries (≥ 32 bytes).
	CacheKey []byte
	// Rate limits token requests per client; nil: no limit.
	Rate *authcache.Rate
	// FreshFor is how long a verification is trusted while the feeds are
	// live; StaleFor how much longer it may serve while the credentials
	// service is unreachable, and for how long into an outage of the
	// credentials feed.
	FreshFor time.Duration
	StaleFor time.Duration
	// LocalTTL is how long a lookup may be reused from this replica's
	// memory (0: never); at most a second, the kill-switch promise.
	LocalTTL time.Duration
	Metrics  *Metrics
	Logger   *slog.Logger
	Now      func() time.Time
}

// Authenticator implements oauth.Authenticator.
type Authenticator struct {
	cfg        Config
	macs       sync.Pool
	stats      *Metrics
	local      *localCache
	maxReserve int
}

var _ oauth.Authenticator = (*Authenticator)(nil)

// New returns an authenticator.
func New(cfg Config) *Authenticator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	key := append([]byte(nil), cfg.CacheKey...)
	a := &Authenticator{cfg: cfg, stats: cfg.Metrics, maxReserve: 1}
	if cfg.LocalTTL > 0 {
		a.local = newLocalCache(cfg.LocalTTL)
	}
	if cfg.Rate != nil {
		// Busy clients reserve up to a quarter of their burst at once.
		a.maxReserve = max(1, min(64, cfg.Rate.Burst/4))
	}
	a.macs.New = func() any { return hmac.New(sha256.New, key) }
	return a
}

// maxSecret bounds what is hashed and sent on (our secrets are ~60 bytes).
const maxSecret = 512

// Authenticate authenticates c; see oauth.Authenticator.
func (a *Authenticator) Authenticate(ctx context.Context, c oauth.ClientCredentials, rateLimited bool) (oauth.Client, error) {
	if !validClientID(c.ClientID) || c.Secret == "" || len(c.Secret) > maxSecret {
		a.stats.auth("invalid")
		return oauth.Client{}, oauth.ErrInvalidClient
	}
	mac := a.mac(c)
	now := a.cfg.Now()
	found, gen, err := a.lookup(ctx, c.ClientID, mac, rateLimited && a.cfg.Rate != nil, now)
	if err != nil {
		return oauth.Client{}, err
	}
	usable := found.Entry != nil && a.usable(*found.Entry, found.CredGen, now)
	if usable && found.Agent != nil && now.Before(found.Entry.VerifiedAt.Add(a.cfg.FreshFor)) && a.cfg.Feeds.Live() {
		a.stats.auth("cache_hit")
		return fromEntry(c.ClientID, *found.Entry, found.Agent), nil
	}

	v, err := a.cfg.Verifier.Verify(ctx, c.ClientID, c.Secret)
	switch {
	case err == nil:
		a.remember(ctx, c.ClientID, mac, v, found, gen, now)
		a.stats.auth("verified")
		return fromVerified(c.ClientID, v, found.Agent), nil
	case ctx.Err() != nil:
		return oauth.Client{}, ctx.Err()
	case apierror.KindOf(err) == apierror.Unauthenticated:
		if found.Entry != nil {
			_ = a.cfg.Cache.DropEntry(ctx, c.ClientID, mac)
			a.Forget(c.ClientID)
		}
		a.stats.auth("invalid")
		return oauth.Client{}, oauth.ErrInvalidClient
	case usable && a.cfg.Feeds.CredentialsDownFor() <= a.cfg.StaleFor:
		// The credentials service cannot answer: serve the cached answer,
		// within its stale bound (docs/token.md). Not once the feed has been
		// down longer than that: the credentials service may be up for
		// others (a partition) and have revoked the secret meanwhile.
		a.stats.auth("stale")
		return fromEntry(c.ClientID, *found.Entry, found.Agent), nil
	default:
		a.cfg.Logger.Warn("credentials service unavailable and no usable cached authentication", "client_id", c.ClientID, "error", err)
		a.stats.auth("unavailable")
		return oauth.Client{}, oauth.ErrUnavailable
	}
}

// usable: the entry is of the client's current credential generation,
// within its stale bound and the secret's own validity.
func (a *Authenticator) usable(e authcache.Entry, credGen int64, now time.Time) bool {
	if e.CredGen != credGen {
		return false
	}
	if !e.ValidUntil.IsZero() && !now.Before(e.ValidUntil) {
		return false
	}
	return now.Before(e.VerifiedAt.Add(a.cfg.FreshFor + a.cfg.StaleFor))
}

// remember caches a verification. The credential generation was read
// before the credentials service was asked, so an event that lands
// meanwhile voids the entry.
func (a *Authenticator) remember(ctx context.Context, clientID, mac string, v Verified, found authcache.Found, gen uint64, now time.Time) {
	ttl := a.cfg.FreshFor + a.cfg.StaleFor
	if !v.ValidUntil.IsZero() {
		ttl = min(ttl, v.ValidUntil.Sub(now))
	}
	if ttl < time.Millisecond {
		return
	}
	e := authcache.Entry{
		CredentialID: v.CredentialID, CredGen: found.CredGen, VerifiedAt: now, ValidUntil: v.ValidUntil,
		AgentStatus: v.AgentStatus, Scopes: v.Scopes, Owner: v.Owner,
	}
	if err := a.cfg.Cache.PutEntry(ctx, clientID, mac, e, ttl); err != nil {
		if ctx.Err() == nil {
			a.cfg.Logger.Warn("caching a client authentication failed", "error", err)
		}
		return
	}
	if a.local != nil && found.Agent != nil {
		found.Entry = &e
		a.local.put(clientID, mac, found, gen, now)
	}
}

// lookup finds what is cached about the client's credentials and charges
// its rate limit: from this replica's memory when it can (a rate-limit
// token reserved earlier, a lookup younger than LocalTTL, both feeds
// live), else in one Redis round trip. gen is the local generation the
// answer was read under (see localCache.put).
func (a *Authenticator) lookup(ctx context.Context, clientID, mac string, limited bool, now time.Time) (authcache.Found, uint64, error) {
	charged := !limited
	if limited && a.local != nil {
		charged = a.local.takeAllowance(clientID, now)
	}
	if charged && a.local != nil && a.cfg.Feeds.Live() {
		if f, ok := a.local.get(clientID, mac, now); ok {
			a.stats.local()
			return f, 0, nil
		}
	}
	q := authcache.Lookup{ClientID: clientID, MAC: mac}
	var gen uint64
	if a.local != nil {
		gen = a.local.generation(clientID)
	}
	if !charged {
		q.Rate, q.Reserve = a.cfg.Rate, 1
		if a.local != nil {
			q.Reserve = a.local.reserveSize(clientID, now, a.maxReserve)
		}
	}
	found, err := a.cfg.Cache.Lookup(ctx, q)
	if err != nil {
		if ctx.Err() != nil {
			return found, 0, ctx.Err()
		}
		a.cfg.Logger.Error("redis lookup failed", "error", err)
		a.stats.auth("unavailable")
		return found, 0, oauth.ErrUnavailable
	}
	if !found.Allowed {
		a.stats.rateLimited()
		return found, 0, oauth.RateLimited(found.RetryAfter)
	}
	if a.local != nil {
		if q.Rate != nil && found.Granted > 1 {
			a.local.addAllowance(clientID, found.Granted-1, now)
		}
		if found.Entry != nil && found.Agent != nil && a.cfg.Feeds.Live() {
			a.local.put(clientID, mac, found, gen, now)
		}
	}
	return found, gen, nil
}

// Forget drops what this replica holds in memory about a client; the
// change-feed followers call it for every event about the agent.
func (a *Authenticator) Forget(clientID string) {
	if a.local != nil {
		a.local.forget(clientID)
	}
}

// fromEntry builds the client from a cached entry, taking the agent's
// state from the projection when it has the agent.
func fromEntry(clientID string, e authcache.Entry, agent *authcache.Agent) oauth.Client {
	c := oauth.Client{ClientID: clientID, AgentID: clientID, CredentialID: e.CredentialID,
		Scopes: e.Scopes, AgentStatus: e.AgentStatus, Owner: e.Owner}
	if agent != nil {
		c.Scopes, c.AgentStatus, c.Owner = agent.Scopes, agent.Status, agent.Owner
	}
	return c
}

// fromVerified builds the client from a fresh verification. When the
// projection also knows the agent, the stricter of the two views wins: the
// credentials service's view of the agent may lag the registry's feed, or
// lead it, by a moment.
func fromVerified(clientID string, v Verified, agent *authcache.Agent) oauth.Client {
	c := oauth.Client{ClientID: clientID, AgentID: v.AgentID, CredentialID: v.CredentialID,
		Scopes: v.Scopes, AgentStatus: v.AgentStatus, Owner: v.Owner}
	if agent == nil {
		return c
	}
	if c.AgentStatus == oauth.StatusActive {
		c.AgentStatus = agent.Status
	}
	if agent.Owner != v.Owner {
		// Moved to another owner a moment ago: which view is newer is not
		// known, so no token now (the next request settles it).
		c.AgentStatus = oauth.StatusMoving
	}
	c.Scopes = intersect(v.Scopes, agent.Scopes)
	return c
}

func intersect(a, b []string) []string {
	out := make([]string, 0, len(a))
	for _, s := range a {
		for _, t := range b {
			if s == t {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

func (a *Authenticator) mac(c oauth.ClientCredentials) string {
	h := a.macs.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(c.ClientID))
	h.Write([]byte{0})
	h.Write([]byte(c.Secret))
	var sum [sha256.Size]byte
	out := base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0]))
	a.macs.Put(h)
	return out
}

// validClientID accepts what an agent id can be (a UUID today) and keeps
// anything else out of Redis keys and away from the credentials service.
func validClientID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
