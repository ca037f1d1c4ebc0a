#!/usr/bin/env bash
# Every test of every part: installs what is missing, vets and lints, then
# runs all Go tests with the race detector against real servers they start
# themselves.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

"$ROOT/scripts/deps.sh"
# Build every SDK's artifact and run its linters and type checkers; their
# tests against the live mesh run in deploy/local/sdkcontract below.
"$ROOT/scripts/sdks.sh" build
# The dashboard: lint, type-check, unit tests, and the build the gateway
# serves (its browser tests run in deploy/local/dashboarde2e below).
"$ROOT/scripts/dashboard.sh"

pkgs=$(go_packages)
log "go vet"
go vet $pkgs
# staticcheck's default checks (bugs, dead code, deprecated APIs, style),
# built from the Go module proxy at the version tools/staticcheck pins.
log "staticcheck"
staticcheck="$(tools_bin)/staticcheck"
(cd "$ROOT/tools/staticcheck" && GOWORK=off go build -o "$staticcheck" honnef.co/go/tools/cmd/staticcheck)
"$staticcheck" $pkgs
log "go test -race"
# deploy/checks parses deployment files with no concurrent code of its own:
# the race detector would only add minutes of compiling Kubernetes' packages.
go test -race -count=1 -timeout 25m ${GOTESTFLAGS:-} $(echo "$pkgs" | grep -v /deploy/checks/)
log "go test deploy/checks"
go test -count=1 ${GOTESTFLAGS:-} ./deploy/checks/...
# Every fuzz target briefly (FUZZTIME, 3s each): go test above only replays
# their seeds and committed corpus.
"$ROOT/scripts/fuzz.sh"
log "all tests passed"
