#!/usr/bin/env bash
# make soak: the whole mesh on 127.0.0.1 under steady mixed load through the
# gateway (deploy/local/cmd/soak): half the measured peak (or RATE ops/s) for
# SOAK_DURATION (default 10m). Fails on any 5xx or on memory, goroutines,
# descriptors or PostgreSQL connections growing beyond the tolerances in
# docs/benchmarks.md, where the report goes (SOAK_DOC= prints only). The
# other knobs (RATE, SOAK_WARMUP, SOAK_AGENTS, ...) are listed there.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/deps.sh"
mkdir -p .dev/bin
go build -o .dev/bin/soak ./deploy/local/cmd/soak
log "soak: ${SOAK_DURATION:-10m} at ${RATE:-half the measured peak} ops/s"
# A failed soak keeps the processes' logs here.
export SOAK_LOGS="${SOAK_LOGS-$ROOT/.dev/soak/logs}"
exec .dev/bin/soak
