package app_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/sentryagent/agentidp/libs/serve"
	"github.com/sentryagent/agentidp/services/token/internal/loadgen"
)

// benchClients is how many agents (and concurrent HTTP clients) the
// benchmarks use.
const benchClients = 32

// BenchmarkToken measures POST /oauth2/token through the real HTTP
// listener on 127.0.0.1, with 32 concurrent clients (32 agents, one
// keep-alive connection each), against real registry and credentials
// processes, Redis and Vault. The load generator runs in this process and
// shares the 2 CPUs with the service, Redis and the other processes.
//
//	go test -run XXX -bench Token -benchtime 20000x ./internal/app/
//
// warm: every client's authentication is cached (one Redis round trip,
// an ES256 signature). miss: CACHE_TTL=1ns, so every request also asks the
// credentials service. Both run the rate limiters (the client's with a
// limit no client reaches, the failure limits at their defaults) and write
// the access log (JSON, discarded).
func BenchmarkToken(b *testing.B) {
	serve.TuneGC(400) // as cmd/token does
	p := startPlatform(b)
	clients := make([]loadgen.Client, benchClients)
	for i := range clients {
		c := p.credential(p.agent("agents:read"), 0)
		clients[i] = loadgen.Client{ID: c.id, Secret: c.secret}
	}
	// The failure limits at their defaults (the harness turns them off):
	// every request pays for the source address's checks.
	common := []string{"TEST_LOG=discard", "LOG_LEVEL=info", "RATE_LIMIT_PER_SECOND=1000000", "RATE_LIMIT_BURST=1000000",
		"AUTH_FAILURE_LIMIT_PER_SECOND=1", "AUTH_FAILURE_LIMIT_BURST=10",
		"SOURCE_AUTH_FAILURE_LIMIT_PER_SECOND=5", "SOURCE_AUTH_FAILURE_LIMIT_BURST=50"}
	run := func(b *testing.B, srv *tokenServer, hitsWanted bool) {
		ctx := context.Background()
		cfg := loadgen.Config{TokenURL: srv.base + "/oauth2/token", Clients: clients, Concurrency: benchClients, Requests: 2000}
		loadgen.Run(ctx, cfg) // warm the cache, connections and pools
		hits0 := srv.metric("agentidp_token_client_auth_total", "result", "cache_hit")
		local0 := srv.metric("agentidp_token_client_auth_local_total")
		cfg.Requests = b.N
		cpu0 := processCPU()
		b.ResetTimer()
		res := loadgen.Run(ctx, cfg)
		b.StopTimer()
		cpu := processCPU() - cpu0
		if res.OK != b.N {
			b.Fatalf("not every request succeeded: %s", res)
		}
		hits := srv.metric("agentidp_token_client_auth_total", "result", "cache_hit") - hits0
		if hitsWanted != (hits == float64(b.N)) {
			b.Fatalf("cache hits %v of %d", hits, b.N)
		}
		b.ReportMetric(res.PerSecond(), "tokens/s")
		b.ReportMetric(float64(res.Quantile(.5).Microseconds()), "p50-µs")
		b.ReportMetric(float64(res.Quantile(.99).Microseconds()), "p99-µs")
		// CPU this process spent per token (service and load generator
		// together): steadier than tokens/s on a shared machine.
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/token")
		local := srv.metric("agentidp_token_client_auth_local_total") - local0
		b.Logf("%s; %.1f%% of lookups answered from replica memory", res, 100*local/float64(b.N))
	}
	warm := startToken(b, p.env(common...))
	b.Run("warm", func(b *testing.B) { run(b, warm, true) })
	miss := startToken(b, p.env(append(common, "CACHE_TTL=1ns", "CACHE_STALE_IF_ERROR=0s")...))
	b.Run("miss", func(b *testing.B) { run(b, miss, false) })
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
