package main

import (
	"strings"
	"testing"
)

// sample is real output of the suite's benchmarks (trimmed), logs included.
const sample = `goos: linux
goarch: amd64
pkg: github.com/sentryagent/agentidp/services/token/internal/app
cpu: AMD EPYC
BenchmarkToken/warm-2         	   20000	    145888 ns/op	       163.9 cpu-µs/token	      3818 p50-µs	     15094 p99-µs	      6876 tokens/s
--- BENCH: BenchmarkToken/warm-2
    bench_test.go:62: 20000 requests, 20000 ok in 2.909s: 6876 tokens/s, p50 3.818ms
BenchmarkToken/miss-2         	   20000	    408464 ns/op	       300.8 cpu-µs/token	     11917 p50-µs	     33678 p99-µs	      2449 tokens/s
BenchmarkToken/signing-2      	   20000	    300000 ns/op	       180.0 local-cpu-µs/token	      3500 local-p50-µs	     12000 local-p99-µs	      8000 local-tokens/s	       400.0 transit-cpu-µs/token	      9000 transit-p50-µs	     30000 transit-p99-µs	      3000 transit-tokens/s	         0.3750 transit/local	       150.0 vault-cpu-µs/token
BenchmarkCheck-2   	   20000	    500025 ns/op	         1.000 cache-hit-ratio	       223.9 cpu-µs/check	        22.83 handler-p50-µs	       970.9 handler-p99-µs	      2000 req/s	       337.0 rtt-p50-µs	      5226 rtt-p99-µs
BenchmarkListByAgent-2   	    2000	   1407023 ns/op	         1.020 p50-ms	         3.126 p99-ms
BenchmarkListByAgent-2   	    2000	   1407023 ns/op	         1.500 p50-ms	         9.000 p99-ms
BenchmarkListByAgent-2   	    2000	   1407023 ns/op	         1.100 p50-ms	         4.000 p99-ms
Benchmark result with words	in it
PASS
ok  	github.com/sentryagent/agentidp/services/token/internal/app	19.354s
`

func TestParseAndTable(t *testing.T) {
	runs := map[string][]result{}
	if err := parseBenchmarks(strings.NewReader(sample), runs); err != nil {
		t.Fatal(err)
	}
	if len(runs) != 5 {
		t.Fatalf("parsed %d benchmarks, want 5: %v", len(runs), runs)
	}
	results := map[string]result{}
	for name, rs := range runs {
		results[name] = median(rs)
	}
	if got := results["BenchmarkToken/warm"].Metrics["tokens/s"]; got != 6876 {
		t.Fatalf("warm tokens/s = %v", got)
	}
	if got := results["BenchmarkListByAgent"].Metrics["p99-ms"]; got != 4 {
		t.Fatalf("median p99 over three runs = %v, want 4", got)
	}
	table, met, targets, missing := markdownTable(results)
	for _, want := range []string{
		"| 6,876 tokens/s | 3.8 ms | 15.1 ms | ≥ 8,000 tokens/s | ✗ |",
		"| 2,000 req/s | 23 µs | 971 µs | p50 ≤ 100 µs, p99 ≤ 1 ms | ✓ |",
		"| — | 1.1 ms | 4.0 ms | p99 ≤ 50 ms | ✓ |",
		"not measured: BenchmarkKillSwitch failed or did not run",
		"| 8,000 tokens/s | 3.5 ms | 12.0 ms | — | — | 20,000 requests; 180 µs CPU per token",
		"| 3,000 tokens/s | 9.0 ms | 30.0 ms | — | — | 0.38× local's tokens/s; 20,000 requests; 400 µs CPU per token (token service + load generator + Vault); Vault 150 µs of it |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if met != 2 || targets != 7 {
		t.Errorf("met %d of %d targets, want 2 of 7", met, targets)
	}
	if strings.Join(missing, ",") != "BenchmarkTokenThroughGateway,BenchmarkGetAgentThroughGateway,BenchmarkKillSwitch,BenchmarkStreamIngest" {
		t.Errorf("missing = %v", missing)
	}
}
