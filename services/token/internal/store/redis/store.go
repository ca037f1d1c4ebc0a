// Package redis is the token service's only state: the client
// authentication cache, per-client rate limits, the projection of agents
// and credential generations kept by the change-feed followers, their
// cursors, and the shared revocation record (libs/revocation).
package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sentryagent/agentidp/libs/ratelimit"
	"github.com/sentryagent/agentidp/libs/revocation"
	"github.com/sentryagent/agentidp/services/token/internal/authcache"
)

// Keys. Everything about one client shares the hash tag {clientID}, so the
// hot path's script touches one slot (Redis Cluster) and one round trip;
// the failure bucket of a (client, source) pair is the client's too. A
// source address's own bucket has its own tag.
func rateKey(clientID string) string       { return "tok:{" + clientID + "}:rl" }
func entryKey(clientID, mac string) string { return "tok:{" + clientID + "}:auth:" + mac }
func agentKey(agentID string) string       { return "tok:{" + agentID + "}:agent" }
func credGenKey(agentID string) string     { return "tok:{" + agentID + "}:credgen" }
func cursorKey(feed string) string         { return "tok:cursor:" + feed }
func pairFailKey(clientID, source string) string {
	return "tok:{" + clientID + "}:fail:" + source
}
func sourceFailKey(source string) string { return "tok:src:{" + source + "}:fail" }

// Store implements the token service's Redis access.
type Store struct {
	rdb goredis.UniversalClient
}

// New returns a store over rdb.
func New(rdb goredis.UniversalClient) *Store { return &Store{rdb: rdb} }

// Ping checks Redis (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// lookupScript answers the hot path in one call. KEYS: the client's rate
// bucket, the cache entry, the agent record, the credential generation,
// the failure bucket of the (client, source) pair. ARGV[4] is the pair
// bucket's burst tolerance in µs (-1: no limit): if the pair bucket is
// empty the answer is {-1, wait µs} and nothing else happens. Otherwise,
// if the entry exists (the secret is proven) and ARGV[1] (the client's
// emission interval in µs; 0: no limit) is set, up to ARGV[3] requests
// are charged to the client's bucket (burst tolerance ARGV[2]), as many as
// fit: none fit is {0, wait µs}. Else {1, granted, entry, agent, credgen}.
var lookupScript = ratelimit.Script(`
local now = clock()
local ftau = tonumber(ARGV[4])
if ftau >= 0 then
  local w = peek(KEYS[5], ftau, now)
  if w > 0 then return {-1, w} end
end
local entry = redis.call('GET', KEYS[2])
local granted = 0
local interval = tonumber(ARGV[1])
if entry and interval > 0 then
  local n, w = take(KEYS[1], interval, tonumber(ARGV[2]), tonumber(ARGV[3]), false, now)
  if n == 0 then return {0, w} end
  granted = n
end
return {1, granted, entry, redis.call('GET', KEYS[3]), redis.call('GET', KEYS[4])}
`)

// Lookup runs the hot path's one Redis round trip: lookupScript and, with
// failure limits, the source bucket's peek, pipelined.
func (s *Store) Lookup(ctx context.Context, q authcache.Lookup) (authcache.Found, error) {
	interval, tau := gcra(q.Rate)
	pairTau := int64(-1)
	var source *authcache.Rate
	if q.Failures != nil {
		if q.Failures.Pair != nil {
			_, pairTau = q.Failures.Pair.GCRA()
		}
		source = q.Failures.Source
	}
	keys := []string{rateKey(q.ClientID), entryKey(q.ClientID, q.MAC), agentKey(q.ClientID), credGenKey(q.ClientID),
		pairFailKey(q.ClientID, q.Source)}
	args := []any{interval, tau, max(1, q.Reserve), pairTau}
	var res []any
	var sourceWait time.Duration
	if source == nil {
		r, err := lookupScript.Run(ctx, s.rdb, keys, args...).Slice()
		if err != nil {
			return authcache.Found{}, fmt.Errorf("redis lookup: %w", err)
		}
		res = r
	} else {
		var lookup *goredis.Cmd
		var peek ratelimit.PeekCmd
		err := s.pipelined(ctx, func(p goredis.Pipeliner) {
			lookup = lookupScript.EvalSha(ctx, p, keys, args...)
			peek = ratelimit.Peek(ctx, p, sourceFailKey(q.Source), *source)
		})
		if err != nil {
			return authcache.Found{}, fmt.Errorf("redis lookup: %w", err)
		}
		if res, err = lookup.Slice(); err != nil {
			return authcache.Found{}, fmt.Errorf("redis lookup: %w", err)
		}
		if sourceWait, err = peek.Result(); err != nil {
			return authcache.Found{}, fmt.Errorf("redis lookup: %w", err)
		}
	}
	if len(res) < 2 {
		return authcache.Found{}, errors.New("redis lookup: short reply")
	}
	status, _ := res[0].(int64)
	second, _ := res[1].(int64)
	switch {
	case status == -1:
		return authcache.Found{Limited: authcache.BucketClientSource, RetryAfter: micros(second)}, nil
	case sourceWait > 0:
		// The client's bucket may have been charged in the same round
		// trip: a proven request from a source that has failed too often.
		// It is refused all the same (no oracle for that source).
		return authcache.Found{Limited: authcache.BucketSource, RetryAfter: sourceWait}, nil
	case status == 0:
		return authcache.Found{Limited: authcache.BucketClient, RetryAfter: micros(second)}, nil
	}
	f := authcache.Found{Allowed: true, Granted: int(second)}
	if len(res) != 5 {
		return authcache.Found{}, errors.New("redis lookup: short reply")
	}
	if v, ok := res[2].(string); ok {
		if e, ok := authcache.DecodeEntry(v); ok {
			f.Entry = &e
		}
	}
	if v, ok := res[3].(string); ok {
		if a, ok := authcache.DecodeAgent(v); ok {
			f.Agent = &a
		}
	}
	if v, ok := res[4].(string); ok {
		f.CredGen, _ = strconv.ParseInt(v, 10, 64)
	}
	return f, nil
}

// PutEntry caches a successful authentication for ttl.
func (s *Store) PutEntry(ctx context.Context, clientID, mac string, e authcache.Entry, ttl time.Duration) error {
	return s.rdb.Set(ctx, entryKey(clientID, mac), authcache.EncodeEntry(e), ttl).Err()
}

// putChargedScript caches an entry (KEYS[2] = ARGV[1] for ARGV[2] ms) and
// charges up to ARGV[5] requests to the client's bucket (KEYS[1]; emission
// interval ARGV[3] µs, burst tolerance ARGV[4] µs). It answers {granted,
// wait µs}.
var putChargedScript = ratelimit.Script(`
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
local n, w = take(KEYS[1], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), false, clock())
if n > 0 then w = 0 end
return {n, w}
`)

// PutEntryCharged caches a successful authentication the credentials
// service just proved and charges the request to the client's bucket, in
// one round trip: granted tokens were reserved (0: the bucket refused;
// wait says until when). Without a rate it is PutEntry.
func (s *Store) PutEntryCharged(ctx context.Context, clientID, mac string, e authcache.Entry, ttl time.Duration, rate *authcache.Rate, reserve int) (int, time.Duration, error) {
	if rate == nil || rate.PerSecond <= 0 {
		return max(1, reserve), 0, s.PutEntry(ctx, clientID, mac, e, ttl)
	}
	interval, tau := rate.GCRA()
	res, err := putChargedScript.Run(ctx, s.rdb, []string{rateKey(clientID), entryKey(clientID, mac)},
		authcache.EncodeEntry(e), max(1, ttl.Milliseconds()), interval, tau, max(1, reserve)).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("redis put entry: %w", err)
	}
	if len(res) != 2 {
		return 0, 0, errors.New("redis put entry: short reply")
	}
	return int(res[0]), micros(res[1]), nil
}

// DropEntry forgets a cached authentication the credentials service no
// longer accepts.
func (s *Store) DropEntry(ctx context.Context, clientID, mac string) error {
	return s.rdb.Del(ctx, entryKey(clientID, mac)).Err()
}

// setIfNewerScript writes ARGV[2] to KEYS[1] unless the sequence stored
// (the value itself, or its prefix up to '|') is already ARGV[1] or more,
// so that a replayed or late event never undoes a newer one.
var setIfNewerScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local seq = tonumber(string.match(cur, '^(%d+)'))
  if seq and seq >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`)

// PutAgent records the agent's state as of feed event a.Sequence.
func (s *Store) PutAgent(ctx context.Context, agentID string, a authcache.Agent) error {
	return setIfNewerScript.Run(ctx, s.rdb, []string{agentKey(agentID)}, a.Sequence, authcache.EncodeAgent(a)).Err()
}

// Agent returns the projection's record of an agent, if any.
func (s *Store) Agent(ctx context.Context, agentID string) (authcache.Agent, bool, error) {
	v, err := s.rdb.Get(ctx, agentKey(agentID)).Result()
	if errors.Is(err, goredis.Nil) {
		return authcache.Agent{}, false, nil
	}
	if err != nil {
		return authcache.Agent{}, false, err
	}
	a, ok := authcache.DecodeAgent(v)
	return a, ok, nil
}

// BumpCredGen raises the agent's credential generation to sequence, which
// voids every cached authentication of the agent made before.
func (s *Store) BumpCredGen(ctx context.Context, agentID string, sequence int64) error {
	seq := strconv.FormatInt(sequence, 10)
	return setIfNewerScript.Run(ctx, s.rdb, []string{credGenKey(agentID)}, seq, seq).Err()
}

// RevokeToken, TokenRevoked, CredentialRevoked and RevokeCredential are
// the shared revocation record.
func (s *Store) RevokeToken(ctx context.Context, jti string, exp time.Time) error {
	return revocation.RevokeToken(ctx, s.rdb, jti, exp)
}

func (s *Store) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	return revocation.TokenRevoked(ctx, s.rdb, jti)
}

func (s *Store) CredentialRevoked(ctx context.Context, credentialID string) (bool, error) {
	return revocation.CredentialRevoked(ctx, s.rdb, credentialID)
}

func (s *Store) RevokeCredential(ctx context.Context, credentialID string, at time.Time, keep time.Duration) error {
	return revocation.RevokeCredential(ctx, s.rdb, credentialID, at, keep)
}
