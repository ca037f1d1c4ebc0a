package redis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sentryagent/agentidp/services/token/internal/authcache"
)

// gcraLua is the rate-limit arithmetic every script here shares: GCRA over
// a key holding the theoretical arrival time (TAT) in µs, with emission
// interval `interval` and burst tolerance `tau` = interval × (burst − 1).
// A bucket admits a request while TAT − now ≤ tau.
//
// peek tells how long until the bucket admits a request (0: now), without
// charging it. take charges up to `want` requests, as many as fit, and
// answers how many and how long until the next is admitted; with `force`
// one request is charged even to an empty bucket, into a debt of at most
// one more burst (a verification that was already under way when the
// bucket emptied still costs its source: concurrency cannot buy more
// guesses than the limit).
const gcraLua = `
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function peek(key, tau, now)
  local tat = tonumber(redis.call('GET', key))
  if not tat or tat - now <= tau then return 0 end
  return tat - now - tau
end
local function take(key, interval, tau, want, force, now)
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local n = math.floor((tau - (tat - now)) / interval) + 1
  if n < 1 then
    if not force then return 0, tat - now - tau end
    n = 1
  end
  n = math.min(n, want)
  tat = math.min(tat + n * interval, now + 2 * tau + interval)
  redis.call('SET', key, string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  return n, math.max(0, tat - now - tau)
end
`

// peekScript answers how long (µs) until the bucket KEYS[1] admits a
// request (ARGV[1]: burst tolerance in µs); 0: now.
var peekScript = goredis.NewScript(gcraLua + `
return peek(KEYS[1], tonumber(ARGV[1]), clock())
`)

// failScript charges one failed authentication to the bucket KEYS[1]
// (ARGV[1] emission interval µs, ARGV[2] burst tolerance µs, ARGV[3] 1 to
// force). It answers {charged, wait µs}: charged 0 means the bucket was
// empty and wait is how long it stays so; otherwise wait is how long it
// refuses from now on (0: it admits the next request).
var failScript = goredis.NewScript(gcraLua + `
local n, w = take(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), 1, ARGV[3] == '1', clock())
return {n, w}
`)

// ChargeFailure charges a failed client authentication to the (client,
// source) pair's bucket and to the source's, in one round trip. With
// force the charge happens whatever the buckets hold (the verification
// already ran); without, an empty bucket refuses and is not charged (the
// request is turned away before any verification).
func (s *Store) ChargeFailure(ctx context.Context, clientID, source string, limits authcache.Failures, force bool) (authcache.FailureCharge, error) {
	out := authcache.FailureCharge{Allowed: true}
	flag := "0"
	if force {
		flag = "1"
	}
	var pair, src *goredis.Cmd
	err := s.pipelined(ctx, func(p goredis.Pipeliner) {
		if limits.Pair != nil {
			interval, tau := limit(limits.Pair)
			pair = failScript.EvalSha(ctx, p, []string{pairFailKey(clientID, source)}, interval, tau, flag)
		}
		if limits.Source != nil {
			interval, tau := limit(limits.Source)
			src = failScript.EvalSha(ctx, p, []string{sourceFailKey(source)}, interval, tau, flag)
		}
	})
	if err != nil {
		return out, fmt.Errorf("redis charge failure: %w", err)
	}
	for _, c := range []struct {
		cmd    *goredis.Cmd
		bucket authcache.Bucket
		wait   *time.Duration
	}{{pair, authcache.BucketClientSource, &out.PairWait}, {src, authcache.BucketSource, &out.SourceWait}} {
		if c.cmd == nil {
			continue
		}
		res, err := c.cmd.Int64Slice()
		if err != nil {
			return out, fmt.Errorf("redis charge failure: %w", err)
		}
		if len(res) != 2 {
			return out, errors.New("redis charge failure: short reply")
		}
		*c.wait = micros(res[1])
		if res[0] == 0 && out.Allowed {
			out.Allowed, out.Limited, out.RetryAfter = false, c.bucket, micros(res[1])
		}
	}
	return out, nil
}

// pipelined runs scripts queued with EvalSha in one round trip, loading
// them into Redis first if it does not know them (a restart, SCRIPT
// FLUSH): a pipeline cannot fall back to EVAL by itself as Script.Run does.
func (s *Store) pipelined(ctx context.Context, queue func(goredis.Pipeliner)) error {
	for attempt := 0; ; attempt++ {
		_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error { queue(p); return nil })
		if err == nil || attempt > 0 || !isNoScript(err) {
			return err
		}
		for _, sc := range []*goredis.Script{lookupScript, peekScript, failScript} {
			if err := sc.Load(ctx, s.rdb).Err(); err != nil {
				return err
			}
		}
	}
}

func isNoScript(err error) bool { return goredis.HasErrorPrefix(err, "NOSCRIPT") }

// limit converts a rate into GCRA's emission interval and burst tolerance
// in µs (0, 0: no limit).
func limit(r *authcache.Rate) (interval, tau int64) {
	if r == nil || r.PerSecond <= 0 {
		return 0, 0
	}
	interval = int64(math.Ceil(1e6 / r.PerSecond))
	return interval, interval * int64(max(r.Burst, 1)-1)
}

func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
