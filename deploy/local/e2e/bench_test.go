package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
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

// BenchmarkGetAgentThroughGateway: authenticated GET /v1/agents/{id}
// (Envoy → ext_authz → authz (two replicas) → transcoder → registry →
// PostgreSQL), 32 agents each with its own token (agents:read).
func BenchmarkGetAgentThroughGateway(b *testing.B) {
	if mesh == nil {
		b.Skip("needs the whole stack")
	}
	t := &testing.T{}
	id := register(t, newAgent("bench-target"))["agentId"].(string)
	url := mesh.GatewayURL() + "/v1/agents/" + id
	tokens := make([]string, benchConns)
	for i := range tokens {
		tokens[i] = "Bearer " + newAgentClient(t, "agents:read").token
	}
	before := processCPU(mesh.Dir())
	load(b, http.StatusOK, func(w int) *http.Request {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", tokens[w])
		return req
	})
	// Where the CPU went, per request: the gateway's cost of asking authz
	// is part of envoy's.
	after := processCPU(mesh.Dir())
	for _, name := range []string{"envoy", "authz", "registry"} {
		b.ReportMetric(float64((after[name]-before[name]).Microseconds())/float64(b.N), name+"-cpu-µs/req")
	}
}

// processCPU sums the CPU time (user and system) of the processes whose
// command line mentions dir, by program name (Linux /proc).
func processCPU(dir string) map[string]time.Duration {
	out := map[string]time.Duration{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !strings.Contains(string(cmdline), dir) {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the parenthesised command name: utime is the 14th
		// field of the file, stime the 15th (clock ticks, 100 per second).
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		prog, _, _ := strings.Cut(string(cmdline), "\x00")
		prog = filepath.Base(prog)
		out[prog] += time.Duration(u+s) * 10 * time.Millisecond
	}
	return out
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
