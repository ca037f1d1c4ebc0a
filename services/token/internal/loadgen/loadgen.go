// Package loadgen drives a token endpoint with concurrent clients and
// measures throughput and latency: the engine of the token benchmarks and
// of cmd/tokenload (for runs against a live stack or through Envoy).
package loadgen

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sentryagent/agentidp/libs/httpload"
)

// Client is one OAuth client's credentials.
type Client struct {
	ID, Secret string
}

// Config describes a run.
type Config struct {
	// TokenURL is the token endpoint.
	TokenURL string
	// Clients are spread over the workers (worker i uses Clients[i%len]).
	Clients     []Client
	Concurrency int
	// Requests in total; the run stops early when ctx ends.
	Requests int
	Scope    string
}

// Result summarises a run.
type Result struct {
	Requests int
	OK       int
	Elapsed  time.Duration
	// Latencies of every request, sorted.
	Latencies []time.Duration
	Status    map[int]int
	Errors    int // transport errors
}

// PerSecond is successful tokens per second.
func (r Result) PerSecond() float64 { return float64(r.OK) / r.Elapsed.Seconds() }

// Quantile returns the q-quantile latency (0 < q ≤ 1).
func (r Result) Quantile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(q*float64(len(r.Latencies))+0.5) - 1
	return r.Latencies[max(0, min(i, len(r.Latencies)-1))]
}

func (r Result) String() string {
	return fmt.Sprintf("%d requests, %d ok in %s: %.0f tokens/s, p50 %s, p90 %s, p99 %s, max %s, statuses %v, transport errors %d",
		r.Requests, r.OK, r.Elapsed.Round(time.Millisecond), r.PerSecond(), r.Quantile(.5).Round(time.Microsecond),
		r.Quantile(.9).Round(time.Microsecond), r.Quantile(.99).Round(time.Microsecond), r.Quantile(1).Round(time.Microsecond),
		r.Status, r.Errors)
}

// Run sends cfg.Requests token requests (client_secret_basic) from
// cfg.Concurrency workers, each over its own keep-alive connection
// (libs/httpload: a lean client, so that the load generator takes little of
// the CPU it shares with the service).
func Run(ctx context.Context, cfg Config) Result {
	body := url.Values{"grant_type": {"client_credentials"}}
	if cfg.Scope != "" {
		body.Set("scope", cfg.Scope)
	}
	form := []byte(body.Encode())

	// One request per client, prepared before any worker starts.
	reqs := make([]httpload.Request, len(cfg.Clients))
	for i, c := range cfg.Clients {
		var err error
		reqs[i], err = httpload.Prepare(http.MethodPost, cfg.TokenURL, http.Header{
			"Content-Type":  {"application/x-www-form-urlencoded"},
			"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ID)+":"+url.QueryEscape(c.Secret)))},
		}, form)
		if err != nil {
			return Result{Status: map[int]int{}, Errors: cfg.Requests}
		}
	}

	var next atomic.Int64
	lat := make([]time.Duration, cfg.Requests)
	codes := make([]int, cfg.Requests)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < cfg.Concurrency; w++ {
		req := reqs[w%len(reqs)]
		wg.Go(func() {
			conn := httpload.NewConn(req.Addr, 30*time.Second)
			defer conn.Close()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= cfg.Requests {
					return
				}
				t0 := time.Now()
				codes[i], _, _ = conn.Do(req)
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	res := Result{Elapsed: time.Since(start), Status: map[int]int{}}
	for i := range min(int(next.Load()), cfg.Requests) {
		res.Requests++
		switch codes[i] {
		case 0:
			res.Errors++
		case http.StatusOK:
			res.OK++
		}
		if codes[i] != 0 {
			res.Status[codes[i]]++
		}
		res.Latencies = append(res.Latencies, lat[i])
	}
	slices.Sort(res.Latencies)
	return res
}
