#!/usr/bin/env bash
# Fuzzes every fuzz target (func FuzzXxx) of every workspace module for
# FUZZTIME each (default 3s; `make fuzz` gives 60s). Each target runs as
#   go test -run '^$' -fuzz '^Name$' -fuzztime $FUZZTIME   (in its package)
# would run it, but each package's instrumented test binary is built once
# and its targets run from it, FUZZ_JOBS (default 2) at a time with the
# cores shared between them: at 3s a target, compiling and linking is most
# of the cost otherwise.
#
# A failing input is written, as go test writes it, to the package's
# testdata/fuzz/<Name>/ (commit it with the fix); the corpus grows in
# $(go env GOCACHE)/fuzz, shared with `go test -fuzz`.
#
# Environment: FUZZTIME (3s), FUZZMINIMIZETIME (1s: minimising a crasher
# longer costs minutes), FUZZ_JOBS (2), FUZZ_RUN (a regexp: only targets
# whose "<package dir>.<Name>" matches).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

fuzztime="${FUZZTIME:-3s}"
minimize="${FUZZMINIMIZETIME:-1s}"
jobs="${FUZZ_JOBS:-2}"
only="${FUZZ_RUN:-.}"
ncpu="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)"
workers=$(( ncpu / jobs > 0 ? ncpu / jobs : 1 ))
cache="$(go env GOCACHE)/fuzz"
# Test binaries are kept between runs: go relinks one only when its
# package changed (linking is seconds per binary, more than a 3s target).
bins="${AGENTIDP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agentidp}/fuzz-bin"
mkdir -p "$bins"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
start=$SECONDS

# Packages with fuzz targets, as "<dir> <import path>".
mapfile -t module_dirs < <(go list -m -f '{{.Dir}}')
mapfile -t dirs < <(grep -rlE --include='*_test.go' '^func Fuzz[A-Z0-9_]' "${module_dirs[@]}" \
  | grep -v '/node_modules/' | xargs -r -n1 dirname | sort -u)
[ "${#dirs[@]}" -gt 0 ] || die "no fuzz targets found"
go list -f '{{.Dir}} {{.ImportPath}}' "${dirs[@]}" >"$work/packages"

log "building $(wc -l <"$work/packages") instrumented test binaries"
build() { # dir importpath
  local bin; bin="$bins/$(echo "$2" | tr '/.' '__').test"
  # flock: another run of this script may be building the same binary.
  (cd "$1" && flock "$bin.lock" go test -c -fuzz=. -o "$bin" .) && echo "$1 $2 $bin"
}
export -f build
export bins
xargs -P "$jobs" -L1 bash -c 'build "$@"' _ <"$work/packages" >"$work/binaries"
[ "$(wc -l <"$work/binaries")" -eq "$(wc -l <"$work/packages")" ] || die "a test binary did not build"

# Targets, as "<dir> <import path> <binary> <Name>".
while read -r dir pkg bin; do
  (cd "$dir" && "$bin" -test.list '^Fuzz') | grep -E '^Fuzz' | while read -r name; do
    rel="${dir#"$ROOT"/}"
    if [[ "$rel.$name" =~ $only ]]; then echo "$dir $pkg $bin $name"; fi
  done
done <"$work/binaries" >"$work/targets"
total="$(wc -l <"$work/targets")"
log "built in $(( SECONDS - start ))s; fuzzing $total targets for $fuzztime each, $jobs at a time ($workers workers each)"

fuzz_one() { # dir importpath binary name
  local dir="$1" pkg="$2" bin="$3" name="$4" out
  out="$work/$(echo "$pkg.$name" | tr '/.' '__').log"
  if (cd "$dir" && "$bin" -test.run='^$' -test.fuzz="^$name\$" -test.fuzztime="$fuzztime" \
      -test.fuzzminimizetime="$minimize" -test.fuzzcachedir="$cache/$pkg" -test.parallel="$workers") >"$out" 2>&1; then
    echo "ok   ${dir#"$ROOT"/} $name"
    return 0
  fi
  # Go's fuzzing coordinator sometimes fails a run with a bare "context
  # deadline exceeded" when -fuzztime ends while a worker is busy (a loaded
  # machine; golang/go#75804). A finding always writes its input and says
  # so; without one, replaying the seeds and testdata corpus decides.
  if grep -q '^ *context deadline exceeded$' "$out" && ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$out" \
      && (cd "$dir" && "$bin" -test.run="^$name\$") >>"$out" 2>&1; then
    echo "ok   ${dir#"$ROOT"/} $name (the fuzzing engine's deadline race; corpus replayed)"
    return 0
  fi
  echo "FAIL ${dir#"$ROOT"/} $name"
  sed 's/^/    /' "$out"
  return 1
}
export -f fuzz_one
export fuzztime minimize cache workers ROOT work
status=0
xargs -P "$jobs" -L1 bash -c 'fuzz_one "$@"' _ <"$work/targets" || status=$?

if [ "$status" -ne 0 ]; then
  die "a fuzz target failed (${SECONDS}s): a new failing input is in its package's testdata/fuzz/<Name>/ (go test -run '<Name>/<file>' there replays it)"
fi
log "$total fuzz targets passed in $(( SECONDS - start ))s"
