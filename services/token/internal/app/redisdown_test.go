package app_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/testkit"
)

// TestRedisDown: with Redis killed, token requests — those in flight at
// the crash and those after — answer 503 temporarily_unavailable with
// Retry-After (the token service's own 503s lacked it; found by
// deploy/local/chaos), well before the gateway's 5 s timeout. (go-redis
// retries a refused connection before giving up: about 1-2 s here.)
func TestRedisDown(t *testing.T) {
	p := startPlatform(t)
	r, err := testkit.StartRedis(context.Background(), testkit.RedisConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	srv := startToken(t, p.env("REDIS_URL="+r.URL(0)))
	var clients []client
	for i := 0; i < 8; i++ {
		c := p.credential(p.agent("agents:read"), 0)
		warm(t, srv, c)
		clients = append(clients, c)
	}

	const bound = 3500 * time.Millisecond
	var (
		mu       sync.Mutex
		slowest  time.Duration
		refusals int
		wg       sync.WaitGroup
	)
	stop := time.Now().Add(4 * time.Second)
	for i := 0; i < 48; i++ { // as many requests in flight as a busy gateway sends
		c := clients[i%len(clients)]
		wg.Add(1)
		go func(c client) {
			defer wg.Done()
			for time.Now().Before(stop) {
				start := time.Now()
				res := srv.token(c, "")
				took := time.Since(start)
				mu.Lock()
				slowest = max(slowest, took)
				mu.Unlock()
				switch {
				case res.status == http.StatusOK:
				case res.status == http.StatusServiceUnavailable && res.header.Get("Retry-After") != "":
					mu.Lock()
					refusals++
					mu.Unlock()
				default:
					t.Errorf("with Redis down: %s (Retry-After %q)", res, res.header.Get("Retry-After"))
					return
				}
			}
		}(c)
	}
	time.Sleep(200 * time.Millisecond) // requests in flight at the crash
	r.Kill()
	wg.Wait()
	if refusals == 0 {
		t.Fatal("no request was refused with Redis down")
	}
	if slowest > bound {
		t.Fatalf("the slowest answer took %s with Redis down, over %s", slowest, bound)
	}
	t.Logf("%d refusals, slowest answer %s", refusals, slowest.Round(time.Millisecond))
}
