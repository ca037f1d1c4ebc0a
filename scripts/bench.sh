#!/usr/bin/env bash
# Benchmarks against a real stack on 127.0.0.1 (started and stopped by the
# benchmark itself). Figures: req/s and p50/p99 latency at 32 connections.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/deps.sh"
go test ./deploy/local/e2e -run '^$' -bench . -benchtime "${BENCHTIME:-20000x}" -count "${COUNT:-1}"
