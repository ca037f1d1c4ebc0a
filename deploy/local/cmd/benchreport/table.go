package main

import (
	"fmt"
	"math"
	"strings"
)

// row is one line of the results table: which benchmark, which of its
// metrics, and the acceptance target (docs/benchmarks.md).
type row struct {
	what  string
	bench string // benchmark name without the -GOMAXPROCS suffix
	rate  string // throughput unit reported by the benchmark ("" for none)
	// rateUnit is how the table names the rate's unit; default rate.
	rateUnit string
	p50      string // latency units: "<name>-µs" or "<name>-ms"
	p99      string
	// target is shown as is; met says whether r reaches it (nil: no target).
	target string
	met    func(r result) bool
	// notes picks the secondary figures worth printing.
	notes func(r result) string
}

// rows is the suite, in the order of the table.
var rows = []row{
	{
		what:  "Token issue, warm cache, direct to the token service (32 clients; plaintext test harness)",
		bench: "BenchmarkToken/warm", rate: "tokens/s", p50: "p50-µs", p99: "p99-µs",
		target: "≥ 8,000 tokens/s", met: func(r result) bool { return r.Metrics["tokens/s"] >= 8000 },
		notes: func(r result) string { return cpuNote(r, "cpu-µs/token", "token service + load generator") },
	},
	{
		what:  "Token issue, cache miss: every request asks credentials (CACHE_TTL=1ns), direct",
		bench: "BenchmarkToken/miss", rate: "tokens/s", p50: "p50-µs", p99: "p99-µs",
		notes: func(r result) string { return cpuNote(r, "cpu-µs/token", "token service + load generator") },
	},
	{
		what:  "Token issue, warm cache, signed in process (local ES256 key), rounds alternating with the next row",
		bench: "BenchmarkToken/signing", rate: "local-tokens/s", rateUnit: "tokens/s", p50: "local-p50-µs", p99: "local-p99-µs",
		notes: func(r result) string {
			return cpuNote(r, "local-cpu-µs/token", "token service + load generator + Vault") + "; medians of 8 rounds"
		},
	},
	{
		what:  "Token issue, warm cache, signed by Vault transit (TOKEN_SIGNING=transit), alternating with the previous row",
		bench: "BenchmarkToken/signing", rate: "transit-tokens/s", rateUnit: "tokens/s", p50: "transit-p50-µs", p99: "transit-p99-µs",
		notes: func(r result) string {
			return fmt.Sprintf("%.2f× local's tokens/s; %s; Vault %.0f µs of it",
				r.Metrics["transit/local"], cpuNote(r, "transit-cpu-µs/token", "token service + load generator + Vault"),
				r.Metrics["vault-cpu-µs/token"])
		},
	},
	{
		what:  "Token issue through Envoy, mutual TLS inside the mesh (2 token replicas, warm cache, 32 connections)",
		bench: "BenchmarkTokenThroughGateway", rate: "req/s", p50: "p50-ms", p99: "p99-ms",
		notes: func(r result) string { return count(r.N, "requests") },
	},
	{
		what:  "Authz Check at 2,000 req/s, Go gRPC client straight to authz (time in handler)",
		bench: "BenchmarkCheck", rate: "req/s", p50: "handler-p50-µs", p99: "handler-p99-µs",
		target: "p50 ≤ 100 µs, p99 ≤ 1 ms",
		met: func(r result) bool {
			return r.Metrics["handler-p50-µs"] <= 100 && r.Metrics["handler-p99-µs"] <= 1000
		},
		notes: func(r result) string {
			return fmt.Sprintf("round trip incl. client: p50 %s, p99 %s; token cache hit ratio %.2f",
				latency(r, "rtt-p50-µs"), latency(r, "rtt-p99-µs"), r.Metrics["cache-hit-ratio"])
		},
	},
	{
		what:  "Authenticated GET /v1/agents/{id} through Envoy, mutual TLS inside the mesh (ext_authz on 2 authz replicas, 32 connections)",
		bench: "BenchmarkGetAgentThroughGateway", rate: "req/s", p50: "p50-ms", p99: "p99-ms",
		target: "≥ 3,000 req/s", met: func(r result) bool { return r.Metrics["req/s"] >= 3000 },
		notes: func(r result) string {
			n := count(r.N, "requests")
			if v, ok := r.Metrics["envoy-cpu-µs/req"]; ok {
				n += fmt.Sprintf("; CPU per request: envoy %.0f µs, authz %.0f µs, registry %.0f µs",
					v, r.Metrics["authz-cpu-µs/req"], r.Metrics["registry-cpu-µs/req"])
			}
			return n
		},
	},
	{
		what:  "Kill switch: suspension → first 401 through Envoy (2 authz replicas)",
		bench: "BenchmarkKillSwitch", p50: "first401-p50-ms", p99: "first401-p99-ms",
		target: "p99 ≤ 1 s", met: func(r result) bool { return r.Metrics["first401-p99-ms"] <= 1000 },
		notes: func(r result) string { return count(int(r.Metrics["trials"]), "trials") },
	},
	{
		what:  "Kill switch: suspension → every replica answers 401",
		bench: "BenchmarkKillSwitch", p50: "all401-p50-ms", p99: "all401-p99-ms",
		target: "p99 ≤ 1 s", met: func(r result) bool { return r.Metrics["all401-p99-ms"] <= 1000 },
		notes: func(r result) string { return count(int(r.Metrics["trials"]), "trials") },
	},
	{
		what:  "Audit ingest: Redis stream → PostgreSQL (batches of 1,000, one COPY each)",
		bench: "BenchmarkStreamIngest", rate: "events/s",
		target: "≥ 20,000 events/s", met: func(r result) bool { return r.Metrics["events/s"] >= 20000 },
		notes: func(r result) string { return count(r.N, "events") },
	},
	{
		what:  "Audit filtered query (agentId, page of 50, newest first) over 1,000,000 events",
		bench: "BenchmarkListByAgent", p50: "p50-ms", p99: "p99-ms",
		target: "p99 ≤ 50 ms", met: func(r result) bool { return r.Metrics["p99-ms"] <= 50 },
		notes: func(r result) string { return count(r.N, "queries") + " over gRPC" },
	},
}

// markdownTable renders the rows from results; a benchmark with no result
// (failed, or not run) shows as missing.
func markdownTable(results map[string]result) (table string, met, targets int, missing []string) {
	var b strings.Builder
	b.WriteString("| Measurement | Throughput | p50 | p99 | Target | Met | Notes |\n")
	b.WriteString("|---|---:|---:|---:|---|:---:|---|\n")
	for _, rw := range rows {
		r, ok := results[rw.bench]
		if !ok {
			missing = append(missing, rw.bench)
			fmt.Fprintf(&b, "| %s | — | — | — | %s | — | not measured: %s failed or did not run |\n",
				rw.what, orDash(rw.target), rw.bench)
			if rw.met != nil {
				targets++
			}
			continue
		}
		verdict := "—"
		if rw.met != nil {
			targets++
			verdict = "✗"
			if rw.met(r) {
				verdict = "✓"
				met++
			}
		}
		rate := "—"
		if rw.rate != "" {
			unit := rw.rate
			if rw.rateUnit != "" {
				unit = rw.rateUnit
			}
			rate = fmt.Sprintf("%s %s", thousands(r.Metrics[rw.rate]), unit)
		}
		p50, p99 := "—", "—"
		if rw.p50 != "" {
			p50, p99 = latency(r, rw.p50), latency(r, rw.p99)
		}
		notes := ""
		if rw.notes != nil {
			notes = rw.notes(r)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", rw.what, rate, p50, p99, orDash(rw.target), verdict, notes)
	}
	return b.String(), met, targets, dedupe(missing)
}

// latency formats metric unit of r ("…-µs" or "…-ms") in a readable unit.
func latency(r result, unit string) string {
	v, ok := r.Metrics[unit]
	if !ok {
		return "?"
	}
	us := v
	if strings.HasSuffix(unit, "-ms") {
		us = v * 1000
	}
	switch {
	case us < 1000:
		return fmt.Sprintf("%.0f µs", us)
	case us < 1e6:
		return fmt.Sprintf("%.1f ms", us/1000)
	default:
		return fmt.Sprintf("%.2f s", us/1e6)
	}
}

func cpuNote(r result, unit, who string) string {
	n := count(r.N, "requests")
	if v, ok := r.Metrics[unit]; ok {
		n += fmt.Sprintf("; %.0f µs CPU per token (%s)", v, who)
	}
	return n
}

func count(n int, what string) string { return thousands(float64(n)) + " " + what }

// thousands formats v rounded, with comma separators: 12,345.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", math.Round(v))
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func dedupe(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
