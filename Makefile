# AgentIdP. The two commands: `make dev` and `make test`.
.PHONY: dev dev-reset test test-short proto bench deps help

help:
	@echo "make dev        run the whole mesh on 127.0.0.1 (Ctrl-C stops it)"
	@echo "make dev-reset  wipe the local stack's data (.dev/)"
	@echo "make test       every test of every part, against real servers"
	@echo "make test-short unit tests only (no servers)"
	@echo "make proto      regenerate libs/gen from libs/proto"
	@echo "make bench      benchmarks (gateway throughput and latency)"

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

deps:
	@scripts/deps.sh
