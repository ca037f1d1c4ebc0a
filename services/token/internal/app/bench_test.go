package app_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/sentryagent/agentidp/libs/serve"
	"github.com/sentryagent/agentidp/services/token/internal/keys/transit"
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
// credentials service. signing: the warm path with local signing and with
// Vault transit (TOKEN_SIGNING=transit), alternating (benchSigning). All
// run the rate limiters (the client's with a
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
	miss.stop()
	warm.stop()
	benchSigning(b, p, clients, common)
}

// benchSigning is BenchmarkToken/signing: the warm path signed in this
// process (local ES256) against the same path signed by Vault transit,
// in alternating rounds of b.N/signingRounds requests each (this VM's
// speed drifts by more than the difference over minutes, so only runs
// interleaved in time compare). It reports each side's median tokens/s,
// p50 and p99 over the rounds, their ratio, and CPU per token — this
// process (service + load generator) plus Vault's — the steadier figure.
func benchSigning(b *testing.B, p *platform, clients []loadgen.Client, common []string) {
	p.enableTransit(b)
	// The transit replica keeps its cache key in a KV mount of its own:
	// the local one's key document must not see its stored keys retired.
	if err := p.vaultRoot().Sys().Mount("transit-kv", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		b.Fatal(err)
	}
	// Its token: transit.Policy with the cache key under that mount.
	transitToken, err := p.vault.PolicyToken(context.Background(), "bench-transit",
		strings.ReplaceAll(transit.Policy, `path "secret/`, `path "transit-kv/`), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	sides := []struct {
		name string
		srv  *tokenServer
	}{
		{"local", startToken(b, p.env(common...))},
		{"transit", startToken(b, p.env(append(common, "TOKEN_SIGNING=transit", "VAULT_MOUNT=transit-kv", "VAULT_TOKEN="+transitToken)...))},
	}
	b.Run("signing", func(b *testing.B) {
		ctx := context.Background()
		per := max(b.N/signingRounds, 200)
		for _, side := range sides { // warm the caches, connections and pools
			cfg := loadgen.Config{TokenURL: side.srv.base + "/oauth2/token", Clients: clients, Concurrency: benchClients, Requests: 2000}
			if res := loadgen.Run(ctx, cfg); res.OK != cfg.Requests {
				b.Fatalf("%s: warm-up failed: %s", side.name, res)
			}
		}
		rate, p50, p99, cpu, vault := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
		b.ResetTimer()
		for round := range signingRounds {
			for i := range sides {
				side := sides[(i+round)%2] // L T, T L, L T, ...: neither always goes first
				cfg := loadgen.Config{TokenURL: side.srv.base + "/oauth2/token", Clients: clients, Concurrency: benchClients, Requests: per}
				cpu0, vault0 := processCPU(), pidCPU(p.vault.PID())
				res := loadgen.Run(ctx, cfg)
				own, v := processCPU()-cpu0, pidCPU(p.vault.PID())-vault0
				if res.OK != per {
					b.Fatalf("%s round %d: not every request succeeded: %s", side.name, round, res)
				}
				rate[side.name] = append(rate[side.name], res.PerSecond())
				p50[side.name] = append(p50[side.name], float64(res.Quantile(.5).Microseconds()))
				p99[side.name] = append(p99[side.name], float64(res.Quantile(.99).Microseconds()))
				cpu[side.name] = append(cpu[side.name], float64((own+v).Microseconds())/float64(per))
				vault[side.name] = append(vault[side.name], float64(v.Microseconds())/float64(per))
			}
		}
		b.StopTimer()
		for _, side := range sides {
			n := side.name
			b.ReportMetric(median(rate[n]), n+"-tokens/s")
			b.ReportMetric(median(p50[n]), n+"-p50-µs")
			b.ReportMetric(median(p99[n]), n+"-p99-µs")
			b.ReportMetric(median(cpu[n]), n+"-cpu-µs/token")
			b.Logf("%s: tokens/s by round %.0f; CPU µs/token (this process + Vault) %.0f, Vault's share %.0f",
				n, rate[n], cpu[n], vault[n])
		}
		b.ReportMetric(median(rate["transit"])/median(rate["local"]), "transit/local")
		b.ReportMetric(median(vault["transit"]), "vault-cpu-µs/token")
	})
}

// signingRounds is how many rounds each side of BenchmarkToken/signing runs.
const signingRounds = 8

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// pidCPU is the user and system CPU time process pid has used (Linux
// /proc; 0 where there is none), for Vault's share of a transit token.
func pidCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces) "comm) state ...":
	// utime and stime are the 14th and 15th fields, in clock ticks (100/s).
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
