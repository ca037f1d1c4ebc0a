// Package redis is the token service's only state: the client
// authentication cache, per-client rate limits, the projection of agents
// and credential generations kept by the change-feed followers, their
// cursors, and the shared revocation record (libs/revocation).
package redis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sentryagent/agentidp/libs/revocation"
	"github.com/sentryagent/agentidp/services/token/internal/authcache"
)

// Keys. Everything about one client shares the hash tag {clientID}, so the
// hot path's script touches one slot (Redis Cluster) and one round trip.
func rateKey(clientID string) string       { return "tok:{" + clientID + "}:rl" }
func entryKey(clientID, mac string) string { return "tok:{" + clientID + "}:auth:" + mac }
func agentKey(agentID string) string       { return "tok:{" + agentID + "}:agent" }
func credGenKey(agentID string) string     { return "tok:{" + agentID + "}:credgen" }
func cursorKey(feed string) string         { return "tok:cursor:" + feed }

// Store implements the token service's Redis access.
type Store struct {
	rdb goredis.UniversalClient
}

// New returns a store over rdb.
func New(rdb goredis.UniversalClient) *Store { return &Store{rdb: rdb} }

// Ping checks Redis (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// lookupScript charges the client's rate limit (GCRA: KEYS[1] holds the
// theoretical arrival time in µs) for up to ARGV[3] requests, as many as
// fit, and, if at least one did, reads the cache entry, the agent record
// and the credential generation. ARGV[1] is the emission interval in µs
// (0: no limit), ARGV[2] the burst tolerance in µs. It answers {0, wait µs}
// or {granted, 0, entry, agent, credgen}.
var lookupScript = goredis.NewScript(`
local interval = tonumber(ARGV[1])
local granted = 1
if interval > 0 then
  local tau = tonumber(ARGV[2])
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local tat = tonumber(redis.call('GET', KEYS[1])) or now
  if tat < now then tat = now end
  granted = math.floor((tau - (tat - now)) / interval) + 1
  if granted < 1 then return {0, string.format('%d', tat - now - tau)} end
  granted = math.min(granted, tonumber(ARGV[3]))
  tat = tat + granted * interval
  redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
end
return {granted, '0', redis.call('GET', KEYS[2]), redis.call('GET', KEYS[3]), redis.call('GET', KEYS[4])}
`)

// Lookup runs the hot path's one Redis call.
func (s *Store) Lookup(ctx context.Context, q authcache.Lookup) (authcache.Found, error) {
	var interval, tau int64
	if q.Rate != nil && q.Rate.PerSecond > 0 {
		interval = int64(math.Ceil(1e6 / q.Rate.PerSecond))
		burst := q.Rate.Burst
		if burst < 1 {
			burst = 1
		}
		tau = interval * int64(burst-1)
	}
	res, err := lookupScript.Run(ctx, s.rdb,
		[]string{rateKey(q.ClientID), entryKey(q.ClientID, q.MAC), agentKey(q.ClientID), credGenKey(q.ClientID)},
		interval, tau, max(1, q.Reserve)).Slice()
	if err != nil {
		return authcache.Found{}, fmt.Errorf("redis lookup: %w", err)
	}
	if len(res) < 2 {
		return authcache.Found{}, errors.New("redis lookup: short reply")
	}
	granted, _ := res[0].(int64)
	if granted == 0 {
		wait, _ := strconv.ParseInt(str(res[1]), 10, 64)
		return authcache.Found{RetryAfter: time.Duration(wait) * time.Microsecond}, nil
	}
	f := authcache.Found{Allowed: true, Granted: int(granted)}
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

func str(v any) string {
	s, _ := v.(string)
	return s
}

// PutEntry caches a successful authentication for ttl.
func (s *Store) PutEntry(ctx context.Context, clientID, mac string, e authcache.Entry, ttl time.Duration) error {
	return s.rdb.Set(ctx, entryKey(clientID, mac), authcache.EncodeEntry(e), ttl).Err()
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
