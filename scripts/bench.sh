#!/usr/bin/env bash
# make bench: the whole benchmark suite in one command, against real servers
# on 127.0.0.1 that the benchmarks start and stop themselves. Prints one
# table (deploy/local/cmd/benchreport) and writes it into docs/benchmarks.md.
#
# Each suite is an existing Go benchmark reporting its figures with
# b.ReportMetric; the raw outputs (Go's benchmark format) and the logs stay
# in $BENCH_OUT (default .dev/bench). About 5 minutes on 2 cores.
#
# Environment:
#   BENCH_REQUESTS     requests per load benchmark (default 20000)
#   KILLSWITCH_TRIALS  kill-switch trials (default 20)
#   BENCH_ONLY         run only these suites, e.g. "token authz" (the doc is
#                      then left alone): token authz gateway ingest auditquery
#   BENCH_NOTE         a remark printed above the table (e.g. "busy machine")
#   BENCH_DOC          the document to update (default docs/benchmarks.md;
#                      empty: print only)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

REQUESTS="${BENCH_REQUESTS:-20000}"
OUT="${BENCH_OUT:-$ROOT/.dev/bench}"
DOC="${BENCH_DOC-docs/benchmarks.md}"
export KILLSWITCH_TRIALS="${KILLSWITCH_TRIALS:-20}"
started=$(date +%s)

"$ROOT/scripts/deps.sh"
rm -rf "$OUT"
mkdir -p "$OUT"

# suite NAME MODULE_DIR PACKAGE BENCH_REGEX BENCHTIME: builds the package's
# test binary, runs its benchmarks from the package directory (as go test
# would), keeps stdout (the figures) apart from stderr (logs), and records a
# failure instead of stopping the suite.
suite() {
  local name="$1" module="$2" pkg="$3" regex="$4" benchtime="$5"
  if [ -n "${BENCH_ONLY:-}" ] && [[ " $BENCH_ONLY " != *" $name "* ]]; then return 0; fi
  local t0=$SECONDS rc=0
  log "$name: $regex ($benchtime)"
  if ! (cd "$ROOT/$module" && go test -c -o "$OUT/$name.test" "$pkg") >"$OUT/$name.log" 2>&1; then
    echo "$name: build failed (log: $OUT/$name.log)" >>"$OUT/failed"
    tail -20 "$OUT/$name.log" >&2
    return 0
  fi
  (cd "$ROOT/$module/$pkg" && "$OUT/$name.test" -test.run '^$' -test.bench "$regex" \
    -test.benchtime "$benchtime" -test.timeout 20m) >"$OUT/$name.txt" 2>>"$OUT/$name.log" || rc=$?
  grep -E '^Benchmark' "$OUT/$name.txt" >&2 || true
  if [ "$rc" != 0 ] || grep -qE '^(--- FAIL|FAIL|panic:)' "$OUT/$name.txt"; then
    echo "$name: exit $rc (output: $OUT/$name.txt, log: $OUT/$name.log)" >>"$OUT/failed"
    tail -30 "$OUT/$name.txt" >&2
  fi
  log "$name: $((SECONDS - t0)) s"
}

# Token service straight over HTTP, warm cache and cache miss, against real
# registry, credentials, Redis and Vault (services/token/internal/app); then
# local against Vault transit signing in alternating rounds (Token/signing).
suite token services/token ./internal/app '^BenchmarkToken$' "${REQUESTS}x"
# Authz Check at a fixed 2,000 req/s, open loop, Go gRPC client.
suite authz services/authz ./internal/app '^BenchmarkCheck$' "${REQUESTS}x"
# The whole mesh through Envoy: authenticated GET, token issue, kill switch.
suite gateway deploy/local ./e2e '^Benchmark(GetAgentThroughGateway|TokenThroughGateway|KillSwitch)$' "${REQUESTS}x"
# Audit: Redis stream ingest, then the filtered query over 1,000,000 events.
suite ingest services/audit ./internal/ingest '^BenchmarkStreamIngest$' 100000x
suite auditquery services/audit ./internal/transport/grpc '^BenchmarkListByAgent$' 2000x

rm -f "$OUT"/*.test
if [ -n "${BENCH_ONLY:-}" ]; then DOC=""; fi
go run ./deploy/local/cmd/benchreport -dir "$OUT" -doc "$DOC" -started "$started"
