package e2e

import (
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/httpload"
)

// The benchmarks drive the real gateway with 32 concurrent keep-alive
// connections and report throughput and latency percentiles:
//
//	go test ./deploy/local/e2e -run '^$' -bench . -benchtime 20000x
//
// (scripts/bench.sh runs them.) The load generator shares the machine's
// cores with Envoy, the services and the databases.
const benchConns = 32

// load runs b.N requests over benchConns connections, each expected to
// answer want, and reports req/s, p50 and p99. newReq gives each worker its
// request (sent as is, again and again) on a keep-alive connection of its
// own; the client is libs/httpload, which costs a fraction of net/http's
// CPU, so that the load generator takes less from the mesh's 2 cores.
func load(b *testing.B, want int, newReq func(worker int) *http.Request) {
	reqs := make([]httpload.Request, benchConns)
	for w := range reqs {
		r := newReq(w)
		var body []byte
		if r.Body != nil {
			body, _ = io.ReadAll(r.Body)
		}
		var err error
		if reqs[w], err = httpload.Prepare(r.Method, r.URL.String(), r.Header, body); err != nil {
			b.Fatal(err)
		}
	}
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
			conn := httpload.NewConn(reqs[w].Addr, 30*time.Second)
			defer conn.Close()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				status, body, err := conn.Do(reqs[w])
				if err != nil {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				if status != want {
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
	before := processCPU()
	load(b, http.StatusOK, func(w int) *http.Request {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", tokens[w])
		return req
	})
	// Where the CPU went, per request: the gateway's cost of asking authz
	// is part of envoy's; "loadgen" is this test process (the HTTP client,
	// mostly); postgres and redis sum their server processes.
	reportCPU(b, before, "envoy", "authz", "registry", "postgres", "redis", "loadgen", "total")
}

// reportCPU reports the CPU each named process (see processCPU) spent per
// request since before.
func reportCPU(b *testing.B, before map[string]time.Duration, names ...string) {
	after := processCPU()
	for _, name := range names {
		b.ReportMetric(float64((after[name]-before[name]).Microseconds())/float64(b.N), name+"-cpu-µs/req")
	}
}

// processCPU sums the CPU time (user and system) of this process ("loadgen")
// and of every process it started, directly or not (the stack: envoy, the
// services, postgres, redis, ...), by program name, and of all of them
// ("total"), from Linux /proc. Other engineers' processes on the machine
// are not counted, so the figure per request is steadier than req/s.
func processCPU() map[string]time.Duration {
	type proc struct {
		ppid int
		comm string
		cpu  time.Duration
	}
	procs := map[int]proc{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		open, end := strings.IndexByte(string(stat), '('), strings.LastIndexByte(string(stat), ')')
		if open < 0 || end < open {
			continue
		}
		// Fields after the parenthesised command name: ppid is the 4th
		// field of the file, utime the 14th, stime the 15th (clock ticks,
		// 100 per second).
		f := strings.Fields(string(stat[end+2:]))
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		procs[pid] = proc{ppid: ppid, comm: string(stat[open+1 : end]), cpu: time.Duration(u+s) * 10 * time.Millisecond}
	}
	self := os.Getpid()
	out := map[string]time.Duration{}
	for pid, p := range procs {
		// Is pid self or a descendant of it?
		q, ok := pid, false
		for depth := 0; depth < 16 && q > 1; depth++ {
			if q == self {
				ok = true
				break
			}
			q = procs[q].ppid
		}
		if !ok {
			continue
		}
		name := p.comm
		switch {
		case pid == self:
			name = "loadgen"
		case strings.HasPrefix(name, "postgres"), strings.HasPrefix(name, "postmaster"):
			name = "postgres"
		case strings.HasPrefix(name, "redis"):
			name = "redis"
		}
		out[name] += p.cpu
		out["total"] += p.cpu
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
	before := processCPU()
	load(b, http.StatusOK, func(w int) *http.Request {
		req, _ := http.NewRequest("POST", url, strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(creds[w].id, creds[w].secret)
		return req
	})
	// audit and postgres: storing the token.issued event of every token.
	reportCPU(b, before, "envoy", "token", "audit", "postgres", "redis", "loadgen", "total")
}
