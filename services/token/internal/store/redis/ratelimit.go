package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sentryagent/agentidp/libs/ratelimit"
	"github.com/sentryagent/agentidp/services/token/internal/authcache"
)

// ChargeFailure charges a failed client authentication to the (client,
// source) pair's bucket and to the source's, in one round trip. With
// force the charge happens whatever the buckets hold (the verification
// already ran); without, an empty bucket refuses and is not charged (the
// request is turned away before any verification).
func (s *Store) ChargeFailure(ctx context.Context, clientID, source string, limits authcache.Failures, force bool) (authcache.FailureCharge, error) {
	out := authcache.FailureCharge{Allowed: true}
	var pair, src *ratelimit.ChargeCmd
	err := s.pipelined(ctx, func(p goredis.Pipeliner) {
		if limits.Pair != nil {
			c := ratelimit.Charge(ctx, p, pairFailKey(clientID, source), *limits.Pair, 1, force)
			pair = &c
		}
		if limits.Source != nil {
			c := ratelimit.Charge(ctx, p, sourceFailKey(source), *limits.Source, 1, force)
			src = &c
		}
	})
	if err != nil {
		return out, fmt.Errorf("redis charge failure: %w", err)
	}
	for _, c := range []struct {
		cmd    *ratelimit.ChargeCmd
		bucket authcache.Bucket
		wait   *time.Duration
	}{{pair, authcache.BucketClientSource, &out.PairWait}, {src, authcache.BucketSource, &out.SourceWait}} {
		if c.cmd == nil {
			continue
		}
		n, wait, err := c.cmd.Result()
		if err != nil {
			return out, fmt.Errorf("redis charge failure: %w", err)
		}
		*c.wait = wait
		if n == 0 && out.Allowed {
			out.Allowed, out.Limited, out.RetryAfter = false, c.bucket, wait
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
		if err := lookupScript.Load(ctx, s.rdb).Err(); err != nil {
			return err
		}
		if err := ratelimit.LoadScripts(ctx, s.rdb); err != nil {
			return err
		}
	}
}

func isNoScript(err error) bool { return goredis.HasErrorPrefix(err, "NOSCRIPT") }

// gcra is r's emission interval and burst tolerance in µs (0, 0: no
// limit), as the scripts take them.
func gcra(r *authcache.Rate) (interval, tau int64) {
	if r == nil {
		return 0, 0
	}
	return r.GCRA()
}

func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
