package e2e

import (
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The benchmarks drive the real gateway with 32 concurrent keep-alive
// connections and report throughput and latency percentiles:
//
//	go test ./deploy/local/e2e -run '^$' -bench . -benchtime 20000x
//
// (scripts/bench.sh runs them.) The load generator shares the machine's
// cores with Envoy, the services and the databases.
const benchConns = 32

// load runs b.N requests made by newReq over benchConns connections, each
// expected to answer want, and reports req/s, p50 and p99.
func load(b *testing.B, want int, newReq func(worker int) *http.Request) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchConns, MaxConnsPerHost: benchConns}}
	latencies := make([]time.Duration, b.N)
	var next, failures atomic.Int64
	var firstFailure atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < benchConns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				resp, err := hc.Do(newReq(w))
				if err != nil {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, string(body))
				}
				latencies[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failures.Load(); f > 0 {
		b.Fatalf("%d of %d requests failed; first: %v", f, b.N, firstFailure.Load())
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkGetAgentThroughGateway: GET /v1/agents/{id} (Envoy transcoder →
// registry → PostgreSQL).
func BenchmarkGetAgentThroughGateway(b *testing.B) {
	if mesh == nil {
		b.Skip("needs the whole stack")
	}
	id := register(&testing.T{}, newAgent("bench-target"))["agentId"].(string)
	url := mesh.GatewayURL() + "/v1/agents/" + id
	load(b, http.StatusOK, func(int) *http.Request {
		req, _ := http.NewRequest("GET", url, nil)
		return req
	})
}

// BenchmarkTokenThroughGateway: POST /oauth2/token with client_secret_basic
// through Envoy to two token replicas, warm cache, one client per
// connection.
func BenchmarkTokenThroughGateway(b *testing.B) {
	if mesh == nil {
		b.Skip("needs the whole stack")
	}
	t := &testing.T{}
	type cred struct{ id, secret string }
	creds := make([]cred, benchConns)
	for i := range creds {
		creds[i].id, creds[i].secret = newClient(t, "agents:read")
		issueToken(t, creds[i].id, creds[i].secret, http.StatusOK) // warm the cache
	}
	url := mesh.GatewayURL() + "/oauth2/token"
	load(b, http.StatusOK, func(w int) *http.Request {
		req, _ := http.NewRequest("POST", url, strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(creds[w].id, creds[w].secret)
		return req
	})
}
