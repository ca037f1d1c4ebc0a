# AgentIdP. The two commands: `make dev` and `make test`.
.PHONY: dev dev-reset test test-short proto bench soak fuzz deps help

help:
	@echo "make dev        run the whole mesh on 127.0.0.1 (Ctrl-C stops it)"
	@echo "make dev-reset  wipe the local stack's data (.dev/)"
	@echo "make test       every test of every part, against real servers"
	@echo "make test-short unit tests only (no servers)"
	@echo "make proto      regenerate libs/gen from libs/proto"
	@echo "make bench      the benchmark suite: one table, written to docs/benchmarks.md"
	@echo "make fuzz       every fuzz target for FUZZTIME (default here 60s) each"
	@echo "make soak       10 minutes at half the measured peak; fails on any 5xx or growth"

dev:
	@scripts/dev.sh

dev-reset:
	@scripts/dev.sh -reset

test:
	@scripts/test.sh

test-short:
	go test -short $$(go list -m -f '{{.Path}}/...')

proto:
	@scripts/proto.sh generate

bench:
	@scripts/bench.sh

soak:
	@scripts/soak.sh

fuzz:
	@FUZZTIME=$${FUZZTIME:-60s} scripts/fuzz.sh

deps:
	@scripts/deps.sh
