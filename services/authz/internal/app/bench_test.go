package app_test

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/sentryagent/agentidp/libs/serve"
)

// BenchmarkCheck measures the Check handler at a fixed 2,000 requests/s
// (an open-loop Go load client: requests start on schedule whether or not
// earlier ones finished), straight to the authz gRPC server: 32 agents,
// each calling GET /v1/agents/{id} with its own token, against the real
// token, registry and credentials services and Redis.
//
//	go test -run XXX -bench Check -benchtime 20000x ./internal/app/
//
// handler-p50/p99 is the time inside the handler (what the acceptance
// target is about); rtt-p50/p99 adds gRPC and the client on the same cores.
func BenchmarkCheck(b *testing.B) {
	const rate = 2000
	serve.TuneGC(400) // as cmd/authz does
	p := startPlatform(b)
	a := p.startAuthz(b, map[string]string{"LOG_LEVEL": "error"})
	type caller struct {
		req *authv3.CheckRequest
	}
	callers := make([]caller, 32)
	for i := range callers {
		c := p.agent("agents:read")
		tok := p.token(c, "")
		callers[i].req = checkRequest("GET", "/v1/agents/"+c.id, tok)
		if r := a.call("GET", "/v1/agents/"+c.id, "", bearer(tok)...); r.status != 200 {
			b.Fatalf("warm-up: %d %s", r.status, r.body)
		}
	}
	a.mu.Lock()
	a.durations = a.durations[:0]
	a.mu.Unlock()
	hits0 := a.metric("agentidp_authz_token_cache_total", "result", "hit")
	miss0 := a.metric("agentidp_authz_token_cache_total", "result", "miss")

	rtts := make([]time.Duration, b.N)
	var failures atomic.Int64
	var wg sync.WaitGroup
	interval := time.Second / rate
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			t0 := time.Now()
			resp, err := a.client.Check(context.Background(), callers[i%len(callers)].req)
			rtts[i] = time.Since(t0)
			if err != nil || resp.GetOkResponse() == nil {
				failures.Add(1)
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	if f := failures.Load(); f > 0 {
		b.Fatalf("%d of %d checks failed", f, b.N)
	}
	a.mu.Lock()
	handler := append([]time.Duration(nil), a.durations...)
	a.mu.Unlock()
	hits := a.metric("agentidp_authz_token_cache_total", "result", "hit") - hits0
	misses := a.metric("agentidp_authz_token_cache_total", "result", "miss") - miss0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(quantile(handler, 0.50), "handler-p50-µs")
	b.ReportMetric(quantile(handler, 0.99), "handler-p99-µs")
	b.ReportMetric(quantile(rtts, 0.50), "rtt-p50-µs")
	b.ReportMetric(quantile(rtts, 0.99), "rtt-p99-µs")
	b.ReportMetric(hits/(hits+misses), "cache-hit-ratio")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/check")
}

// cpuTime is this process's CPU time (user and system): the server and the
// load client together.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func quantile(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[int(q*float64(len(s)-1))].Nanoseconds()) / 1000
}

// checkRequest is what Envoy sends for an authenticated GET through the
// gateway.
func checkRequest(method, path, tok string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "7c1e6a58-6b0b-4a8e-9f5e-0d3b1c2a9e47", Method: method, Path: path, Host: "127.0.0.1:8080",
			Scheme: "http", Protocol: "HTTP/1.1",
			Headers: map[string]string{
				":authority": "127.0.0.1:8080", ":method": method, ":path": path, ":scheme": "http",
				"authorization": "Bearer " + tok, "user-agent": "Go-http-client/1.1", "accept-encoding": "gzip",
				"x-forwarded-for": "127.0.0.1", "x-forwarded-proto": "http",
				"x-request-id": "7c1e6a58-6b0b-4a8e-9f5e-0d3b1c2a9e47", "x-envoy-expected-rq-timeout-ms": "5000",
			},
		}},
	}}
}
