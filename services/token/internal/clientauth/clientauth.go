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
	"github.com/sentryagent/agentidp/libs/ratelimit"
	"github.com/sentryagent/agentidp/libs/requestinfo"
	"github.com/sentryagent/agentidp/services/token/internal/authcache"
	"github.com/sentryagent/agentidp/services/token/internal/oauth"
)

// Cache is the Redis side of the hot path.
type Cache interface {
	Lookup(ctx context.Context, q authcache.Lookup) (authcache.Found, error)
	PutEntry(ctx context.Context, clientID, mac string, e authcache.Entry, ttl time.Duration) error
	// PutEntryCharged caches a verification and charges the request to
	// the client's bucket (rate), reserving up to reserve tokens; it
	// answers how many were granted (0: the bucket refused, for wait).
	PutEntryCharged(ctx context.Context, clientID, mac string, e authcache.Entry, ttl time.Duration, rate *authcache.Rate, reserve int) (int, time.Duration, error)
	DropEntry(ctx context.Context, clientID, mac string) error
	// ChargeFailure charges a failed authentication to the failure
	// buckets of (clientID, source) and source; with force even to empty
	// ones (the verification already ran).
	ChargeFailure(ctx context.Context, clientID, source string, limits authcache.Failures, force bool) (authcache.FailureCharge, error)
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
	// Rate limits each client's authenticated requests; nil: no limit.
	// Only a request whose secret is proven (a cached MAC, or the
	// credentials service's yes) is charged to it, so nobody can spend
	// another client's budget by naming it.
	Rate *authcache.Rate
	// Failures limits failed authentications per (client, source address)
	// and per source address; nil: no limit. When either bucket is empty
	// the request is refused before any verification.
	Failures *authcache.Failures
	// FreshFor is how long a verification is trusted while the feeds are
	// live; StaleFor how much longer it may serve while the credentials
	// service is unreachable, and for how long into an outage of the
	// credentials feed.
	FreshFor time.Duration
	StaleFor time.Duration
	// LocalTTL is how long a lookup may be reused from this replica's
	// memory (0: never); at most a second, the kill-switch promise.
	LocalTTL time.Duration
	// UnknownTTL is how long this replica remembers a client id that names
	// no agent (0: it does not), at most UnknownSize of them.
	UnknownTTL  time.Duration
	UnknownSize int
	Metrics     *Metrics
	Logger      *slog.Logger
	Now         func() time.Time
}

// Authenticator implements oauth.Authenticator.
type Authenticator struct {
	cfg     Config
	macs    sync.Pool
	stats   *Metrics
	local   *localCache
	unknown *unknownClients
	denied  *denials
	// reserved is the client buckets' reservations (docs/token.md).
	reserved *ratelimit.Reservations
}

var _ oauth.Authenticator = (*Authenticator)(nil)

// New returns an authenticator.
func New(cfg Config) *Authenticator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	key := append([]byte(nil), cfg.CacheKey...)
	a := &Authenticator{cfg: cfg, stats: cfg.Metrics, denied: newDenials()}
	if cfg.LocalTTL > 0 {
		a.local = newLocalCache(cfg.LocalTTL)
		// Reservations are spent only from memory, with a local copy of
		// the entry that proves the secret.
		a.reserved = ratelimit.NewReservations(reserveWindow, 0)
	} else {
		a.reserved = ratelimit.NewReservations(0, 0)
	}
	if cfg.UnknownTTL > 0 {
		a.unknown = newUnknownClients(max(1, cfg.UnknownSize), cfg.UnknownTTL)
	}
	a.macs.New = func() any { return hmac.New(sha256.New, key) }
	return a
}

// reserveWindow is how long a client's reserved requests stay usable, and
// about how many a busy client reserves: a window's worth at its recent
// rate (docs/token.md, "Rate limits"). Short, so that what a replica
// forfeits when a client stops is small.
const reserveWindow = 250 * time.Millisecond

// maxSecret bounds what is hashed and sent on (our secrets are ~60 bytes).
const maxSecret = 512

// limits are the buckets one request is subject to.
type limits struct {
	rate     *authcache.Rate
	failures *authcache.Failures
	source   string
}

// Authenticate authenticates c; see oauth.Authenticator. The source
// address is the one Envoy saw (requestinfo, set by the HTTP edge).
func (a *Authenticator) Authenticate(ctx context.Context, c oauth.ClientCredentials, rateLimited bool) (oauth.Client, error) {
	if !validClientID(c.ClientID) || c.Secret == "" || len(c.Secret) > maxSecret {
		a.stats.auth("invalid")
		return oauth.Client{}, oauth.ErrInvalidClient
	}
	now := a.cfg.Now()
	var lim limits
	if rateLimited {
		lim.rate, lim.failures = a.cfg.Rate, a.cfg.Failures
	}
	if lim.failures != nil {
		lim.source = sourceKey(requestinfo.From(ctx).SourceAddress)
		if bucket, wait := a.denied.check(c.ClientID, lim.source, now); wait > 0 {
			return oauth.Client{}, a.limited(bucket, wait)
		}
	}
	mac := a.mac(c)
	live := a.cfg.Feeds.Live()
	var (
		found      authcache.Found
		charged    bool
		gen        uint64
		unknownGen uint64
		inMemory   bool
	)
	if a.local != nil && live {
		// A copy of this secret's entry proves the secret, and a reserved
		// request's worth of the client's limit pays for it: no Redis
		// round trip. Every request of the client counts to size its next
		// reservation.
		found, inMemory = a.local.get(c.ClientID, mac, now)
		if lim.rate != nil {
			if inMemory {
				inMemory, _ = a.reserved.Take(c.ClientID, now)
			} else {
				a.reserved.Note(c.ClientID, now)
			}
		}
		if inMemory {
			a.stats.local()
			charged = true
		}
	}
	if !inMemory {
		if a.unknown != nil && live {
			if a.unknown.has(c.ClientID) {
				a.stats.auth("unknown_client")
				return oauth.Client{}, a.failed(ctx, c.ClientID, lim, now, false)
			}
			unknownGen = a.unknown.generation()
		}
		var err error
		if found, charged, gen, err = a.lookup(ctx, c.ClientID, mac, lim, now); err != nil {
			return oauth.Client{}, err
		}
	}
	usable := found.Entry != nil && a.usable(*found.Entry, found.CredGen, now)
	if usable && found.Agent != nil && now.Before(found.Entry.VerifiedAt.Add(a.cfg.FreshFor)) && a.cfg.Feeds.Live() {
		a.stats.auth("cache_hit")
		return fromEntry(c.ClientID, *found.Entry, found.Agent), nil
	}

	v, err := a.cfg.Verifier.Verify(ctx, c.ClientID, c.Secret)
	switch {
	case err == nil:
		if err := a.remember(ctx, c.ClientID, mac, v, found, gen, now, charged, lim); err != nil {
			return oauth.Client{}, err
		}
		a.stats.auth("verified")
		return fromVerified(c.ClientID, v, found.Agent), nil
	case ctx.Err() != nil:
		return oauth.Client{}, ctx.Err()
	case apierror.KindOf(err) == apierror.Unauthenticated:
		if found.Entry != nil {
			_ = a.cfg.Cache.DropEntry(ctx, c.ClientID, mac)
			a.Forget(c.ClientID)
		}
		if a.unknown != nil && live && found.Agent == nil {
			a.unknown.add(c.ClientID, unknownGen)
		}
		a.stats.auth("invalid")
		return oauth.Client{}, a.failed(ctx, c.ClientID, lim, now, true)
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

// failed charges a failed authentication to the failure buckets and
// answers invalid_client. With force (the verification ran) the charge
// always happens; without (a client known to be unknown, refused without
// asking anyone) an empty bucket answers 429 instead, as it would have
// before any verification.
func (a *Authenticator) failed(ctx context.Context, clientID string, lim limits, now time.Time, force bool) error {
	if lim.failures == nil {
		return oauth.ErrInvalidClient
	}
	ch, err := a.cfg.Cache.ChargeFailure(ctx, clientID, lim.source, *lim.failures, force)
	if err != nil {
		if ctx.Err() == nil {
			a.cfg.Logger.Warn("charging a failed client authentication failed", "error", err)
		}
		return oauth.ErrInvalidClient
	}
	a.denied.add(pairKey(clientID, lim.source), now, ch.PairWait)
	a.denied.add(sourceOnlyKey(lim.source), now, ch.SourceWait)
	if !ch.Allowed {
		return a.limited(ch.Limited, ch.RetryAfter)
	}
	return oauth.ErrInvalidClient
}

// limited is the error of a request a bucket refused.
func (a *Authenticator) limited(bucket authcache.Bucket, wait time.Duration) error {
	a.stats.rateLimited(bucket)
	if bucket == authcache.BucketClient {
		return oauth.RateLimited(wait)
	}
	return oauth.FailuresLimited(wait)
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

// remember caches a verification and, unless the lookup already did (the
// entry existed), charges the now proven request to the client's bucket,
// in one round trip. The credential generation was read before the
// credentials service was asked, so an event that lands meanwhile voids
// the entry.
func (a *Authenticator) remember(ctx context.Context, clientID, mac string, v Verified, found authcache.Found, gen uint64, now time.Time, charged bool, lim limits) error {
	ttl := a.cfg.FreshFor + a.cfg.StaleFor
	if !v.ValidUntil.IsZero() {
		ttl = min(ttl, v.ValidUntil.Sub(now))
	}
	// An entry about to lapse is still written when it carries the charge
	// (usable() never serves it past valid_until).
	ttl = max(ttl, time.Millisecond)
	e := authcache.Entry{
		CredentialID: v.CredentialID, CredGen: found.CredGen, VerifiedAt: now, ValidUntil: v.ValidUntil,
		AgentStatus: v.AgentStatus, Scopes: v.Scopes, Owner: v.Owner,
	}
	var err error
	granted := 0
	if charged || lim.rate == nil {
		err = a.cfg.Cache.PutEntry(ctx, clientID, mac, e, ttl)
	} else {
		var wait time.Duration
		reserve := a.reserved.Want(clientID, lim.rate.Burst, now)
		granted, wait, err = a.cfg.Cache.PutEntryCharged(ctx, clientID, mac, e, ttl, lim.rate, reserve)
		if err == nil && granted == 0 {
			return a.limited(authcache.BucketClient, wait)
		}
	}
	if err != nil {
		// Rate limiting protects; it does not authorize: a verified client
		// is not refused because Redis failed to record it.
		if ctx.Err() == nil {
			a.cfg.Logger.Warn("caching a client authentication failed", "error", err)
		}
		return nil
	}
	a.reserved.Grant(clientID, granted, now)
	if a.local != nil && found.Agent != nil {
		found.Entry = &e
		a.local.put(clientID, mac, found, gen, now)
	}
	return nil
}

// lookup reads what Redis has about the client's credentials in one round
// trip, refusing the request if a failure bucket is empty and charging
// the client's bucket if the entry proves the secret (charged: it was, or
// needs no charge). gen is the local generation the answer was read under
// (see localCache.put).
func (a *Authenticator) lookup(ctx context.Context, clientID, mac string, lim limits, now time.Time) (authcache.Found, bool, uint64, error) {
	q := authcache.Lookup{ClientID: clientID, MAC: mac, Failures: lim.failures, Source: lim.source}
	var gen uint64
	if a.local != nil {
		gen = a.local.generation(clientID)
	}
	if lim.rate != nil {
		q.Rate, q.Reserve = lim.rate, a.reserved.Want(clientID, lim.rate.Burst, now)
	}
	found, err := a.cfg.Cache.Lookup(ctx, q)
	if err != nil {
		if ctx.Err() != nil {
			return found, false, 0, ctx.Err()
		}
		a.cfg.Logger.Error("redis lookup failed", "error", err)
		a.stats.auth("unavailable")
		return found, false, 0, oauth.ErrUnavailable
	}
	if !found.Allowed {
		switch found.Limited {
		case authcache.BucketSource:
			a.denied.add(sourceOnlyKey(lim.source), now, found.RetryAfter)
		case authcache.BucketClientSource:
			a.denied.add(pairKey(clientID, lim.source), now, found.RetryAfter)
		}
		return found, false, 0, a.limited(found.Limited, found.RetryAfter)
	}
	charged := lim.rate == nil || found.Granted > 0
	a.reserved.Grant(clientID, found.Granted, now)
	if a.local != nil && found.Entry != nil && found.Agent != nil && a.cfg.Feeds.Live() {
		a.local.put(clientID, mac, found, gen, now)
	}
	return found, charged, gen, nil
}

// Forget drops what this replica holds in memory about a client; the
// change-feed followers call it for every event about the agent and for
// every credential created for it (the client is no longer unknown).
func (a *Authenticator) Forget(clientID string) {
	if a.local != nil {
		a.local.forget(clientID)
	}
	if a.unknown != nil {
		a.unknown.forget(clientID)
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
