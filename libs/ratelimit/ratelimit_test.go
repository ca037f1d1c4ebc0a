package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentryagent/agentidp/libs/ratelimit"
	"github.com/sentryagent/agentidp/libs/redisclient"
	"github.com/sentryagent/agentidp/libs/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func newRedis(t *testing.T) *redis.Client {
	t.Helper()
	rdb, err := redisclient.Open(context.Background(), testkit.NewRedisURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func count(t *testing.T, l *ratelimit.Limiter, key string, lim ratelimit.Limit, n int) (allowed int, wait time.Duration) {
	t.Helper()
	for i := 0; i < n; i++ {
		ok, w, err := l.Allow(context.Background(), key, lim)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			allowed++
		} else {
			wait = w
		}
	}
	return allowed, wait
}

// TestBurstThenRate: a burst is admitted at once, then the rate; replicas
// (two limiters) share the limit through Redis, reservations included.
func TestBurstThenRate(t *testing.T) {
	testkit.SkipIfShort(t)
	rdb := newRedis(t)
	lim := ratelimit.Limit{PerSecond: 10, Burst: 40}
	for _, window := range []time.Duration{0, 250 * time.Millisecond} {
		a := ratelimit.New(ratelimit.Config{Redis: rdb, Window: window})
		b := ratelimit.New(ratelimit.Config{Redis: rdb, Window: window})
		key := "{agent-" + window.String() + "}:b"
		n1, _ := count(t, a, key, lim, 30)
		n2, wait := count(t, b, key, lim, 30)
		if n1+n2 < 38 || n1+n2 > 41 {
			t.Fatalf("window %s: admitted %d+%d of a burst of 40", window, n1, n2)
		}
		if wait <= 0 || wait > time.Second {
			t.Fatalf("window %s: wait %s", window, wait)
		}
		if got := ratelimit.RetryAfter(wait); got != "1" {
			t.Fatalf("Retry-After %q", got)
		}
		// Other buckets are separate.
		if n, _ := count(t, a, key+"-other", lim, 5); n != 5 {
			t.Fatalf("another bucket admitted %d of 5", n)
		}
	}
}

func TestZeroRateAdmitsNothing(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{})
	if ok, wait, err := l.Allow(context.Background(), "k", ratelimit.Limit{}); ok || wait <= 0 || err != nil {
		t.Fatalf("%v %v %v", ok, wait, err)
	}
}

func TestRedisDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	l := ratelimit.New(ratelimit.Config{Redis: rdb})
	if _, _, err := l.Allow(context.Background(), "k", ratelimit.Limit{PerSecond: 1, Burst: 1}); err == nil {
		t.Fatal("no error without Redis")
	}
}

// TestChargeAndPeek: a charge takes what fits; a forced one goes into a
// debt of at most one more burst; a peek charges nothing and tells the
// wait; both run on a pipeline after LoadScripts.
func TestChargeAndPeek(t *testing.T) {
	testkit.SkipIfShort(t)
	rdb := newRedis(t)
	ctx := context.Background()
	lim := ratelimit.Limit{PerSecond: 1, Burst: 3}
	if n, wait, err := ratelimit.Charge(ctx, rdb, "k", lim, 10, false).Result(); err != nil || n != 3 || wait < 900*time.Millisecond || wait > time.Second {
		t.Fatalf("charge of 10 into a burst of 3: %d %s %v", n, wait, err)
	}
	if n, wait, err := ratelimit.Charge(ctx, rdb, "k", lim, 1, false).Result(); err != nil || n != 0 || wait <= 0 {
		t.Fatalf("charge to an empty bucket: %d %s %v", n, wait, err)
	}
	if wait, err := ratelimit.Peek(ctx, rdb, "k", lim).Result(); err != nil || wait <= 0 || wait > time.Second {
		t.Fatalf("peek at an empty bucket: %s %v", wait, err)
	}
	for i := 0; i < 10; i++ {
		if n, _, err := ratelimit.Charge(ctx, rdb, "k", lim, 1, true).Result(); err != nil || n != 1 {
			t.Fatalf("forced charge: %d %v", n, err)
		}
	}
	if wait, _ := ratelimit.Peek(ctx, rdb, "k", lim).Result(); wait < 2*time.Second || wait > 4*time.Second {
		t.Fatalf("debt not bounded by one burst: %s", wait)
	}
	if wait, err := ratelimit.Peek(ctx, rdb, "untouched", lim).Result(); err != nil || wait != 0 {
		t.Fatalf("peek at a full bucket: %s %v", wait, err)
	}

	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := ratelimit.LoadScripts(ctx, rdb); err != nil {
		t.Fatal(err)
	}
	var charge ratelimit.ChargeCmd
	var peek ratelimit.PeekCmd
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		charge = ratelimit.Charge(ctx, p, "p", lim, 2, false)
		peek = ratelimit.Peek(ctx, p, "p", lim)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n, _, err := charge.Result(); err != nil || n != 2 {
		t.Fatalf("pipelined charge: %d %v", n, err)
	}
	if wait, err := peek.Result(); err != nil || wait != 0 {
		t.Fatalf("pipelined peek: %s %v", wait, err)
	}
}

func TestGCRA(t *testing.T) {
	for _, tt := range []struct {
		lim           ratelimit.Limit
		interval, tau int64
	}{
		{ratelimit.Limit{PerSecond: 10, Burst: 20}, 100_000, 1_900_000},
		{ratelimit.Limit{PerSecond: 3, Burst: 1}, 333_334, 0},
		{ratelimit.Limit{PerSecond: 1, Burst: 0}, 1_000_000, 0},
		{ratelimit.Limit{Burst: 5}, 0, 0},
	} {
		if i, tau := tt.lim.GCRA(); i != tt.interval || tau != tt.tau {
			t.Errorf("%+v: %d %d, want %d %d", tt.lim, i, tau, tt.interval, tt.tau)
		}
	}
}
