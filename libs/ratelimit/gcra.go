package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lua is the GCRA arithmetic, the one copy every script that limits a
// rate is built from (Script): a bucket is a key holding its theoretical
// arrival time (TAT) in µs of Redis' clock; it admits a request while
// TAT − now ≤ tau, and each request admitted moves TAT on by interval.
//
//   - clock() is Redis' time in µs.
//   - peek(key, tau, now) is how long until the bucket admits a request
//     (0: now), without charging it.
//   - take(key, interval, tau, want, force, now) charges up to want
//     requests, as many as fit, and answers how many and how long until
//     the bucket admits the next (0: at once); none fit is (0, wait).
//     With force one request is charged even to an empty bucket, into a
//     debt of at most one more burst (a verification that was already
//     under way when the bucket emptied still costs: concurrency cannot
//     buy more than the limit).
const Lua = `
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

// Script returns a script of Lua's functions followed by body, for a
// service whose own script must charge a bucket in the same round trip as
// other work (the token service's cache lookup).
func Script(body string) *redis.Script { return redis.NewScript(Lua + body) }

// chargeScript charges up to ARGV[3] requests to the bucket KEYS[1]
// (ARGV[1] emission interval µs, ARGV[2] burst tolerance µs, ARGV[4] '1'
// to force); it answers take's {charged, wait µs}.
var chargeScript = Script(`
local n, w = take(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1', clock())
return {n, w}
`)

// peekScript answers how long (µs) until the bucket KEYS[1] admits a
// request (ARGV[1]: burst tolerance µs); 0: now.
var peekScript = Script(`
return peek(KEYS[1], tonumber(ARGV[1]), clock())
`)

// ChargeCmd is a charge sent to Redis; on a pipeline its result is known
// once the pipeline has run.
type ChargeCmd struct{ cmd *redis.Cmd }

// Charge charges up to want requests to the bucket key, as many as fit;
// with force one even to an empty bucket (see Lua). c may be a pipeline,
// which sends the script by its hash only: LoadScripts when Redis answers
// NOSCRIPT. lim must have a rate.
func Charge(ctx context.Context, c redis.Scripter, key string, lim Limit, want int, force bool) ChargeCmd {
	interval, tau := lim.GCRA()
	flag := "0"
	if force {
		flag = "1"
	}
	return ChargeCmd{chargeScript.Run(ctx, c, []string{key}, interval, tau, max(1, want), flag)}
}

// Result is how many requests were charged (0: the bucket is empty and
// was not) and how long until the bucket admits the next request (0: at
// once).
func (c ChargeCmd) Result() (charged int, wait time.Duration, err error) {
	res, err := c.cmd.Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("rate limit: %w", err)
	}
	if len(res) != 2 {
		return 0, 0, errors.New("rate limit: short reply")
	}
	return int(res[0]), micros(res[1]), nil
}

// PeekCmd is a peek sent to Redis (see ChargeCmd).
type PeekCmd struct{ cmd *redis.Cmd }

// Peek asks how long until the bucket key admits a request, charging
// nothing.
func Peek(ctx context.Context, c redis.Scripter, key string, lim Limit) PeekCmd {
	_, tau := lim.GCRA()
	return PeekCmd{peekScript.Run(ctx, c, []string{key}, tau)}
}

// Result is the wait (0: the bucket admits a request now).
func (c PeekCmd) Result() (time.Duration, error) {
	us, err := c.cmd.Int64()
	if err != nil {
		return 0, fmt.Errorf("rate limit: %w", err)
	}
	return micros(us), nil
}

// LoadScripts loads the scripts of Charge and Peek into Redis, for a
// pipeline that met NOSCRIPT (a restart, SCRIPT FLUSH): a pipeline cannot
// fall back to EVAL by itself.
func LoadScripts(ctx context.Context, c redis.Scripter) error {
	for _, s := range []*redis.Script{chargeScript, peekScript} {
		if err := s.Load(ctx, c).Err(); err != nil {
			return err
		}
	}
	return nil
}
