package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentryagent/agentidp/libs/testkit"
	"github.com/sentryagent/agentidp/services/authz/internal/ratelimit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func newRedis(t *testing.T) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(testkit.NewRedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func count(t *testing.T, l *ratelimit.Limiter, agent string, lim ratelimit.Limit, n int) (allowed int, wait time.Duration) {
	t.Helper()
	for i := 0; i < n; i++ {
		ok, w, err := l.Allow(context.Background(), agent, "b", lim)
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
		agent := "agent-" + window.String()
		n1, _ := count(t, a, agent, lim, 30)
		n2, wait := count(t, b, agent, lim, 30)
		if n1+n2 < 38 || n1+n2 > 41 {
			t.Fatalf("window %s: admitted %d+%d of a burst of 40", window, n1, n2)
		}
		if wait <= 0 || wait > time.Second {
			t.Fatalf("window %s: wait %s", window, wait)
		}
		if got := ratelimit.RetryAfter(wait); got != "1" {
			t.Fatalf("Retry-After %q", got)
		}
		// Other agents and buckets are separate.
		if n, _ := count(t, a, agent+"-other", lim, 5); n != 5 {
			t.Fatalf("another agent admitted %d of 5", n)
		}
	}
}

func TestZeroRateAdmitsNothing(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{})
	if ok, wait, err := l.Allow(context.Background(), "a", "b", ratelimit.Limit{}); ok || wait <= 0 || err != nil {
		t.Fatalf("%v %v %v", ok, wait, err)
	}
}

func TestRedisDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	l := ratelimit.New(ratelimit.Config{Redis: rdb})
	if _, _, err := l.Allow(context.Background(), "a", "b", ratelimit.Limit{PerSecond: 1, Burst: 1}); err == nil {
		t.Fatal("no error without Redis")
	}
}
