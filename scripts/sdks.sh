#!/usr/bin/env bash
# The SDKs (sdks/): install their toolchains' dependencies, type-check and lint
# them, build their artifacts, run their tests.
#
#   scripts/sdks.sh [build|test] [python|go|java|typescript ...]
#
# build (default): dependencies, then the checks and artifacts of each SDK —
#   python      mypy --strict (Python 3.9 target), the wheel in sdks/python/dist/
#   go          gofmt, go vet, go build
#   java        javac -Xlint:all -Werror (pom.xml), the jar in sdks/java/target/
#   typescript  tsc --strict, npm pack (dist/ and the .tgz in sdks/typescript/)
# test: dependencies, then each SDK's test suite. With AGENTIDP_URL,
#   AGENTIDP_CLIENT_ID and AGENTIDP_CLIENT_SECRET set (`. .dev/env`, or
#   deploy/local/sdkcontract, which starts a mesh and runs this for each SDK)
#   the suites also run the contract scenarios (sdks/contract) and the README
#   quickstarts against that mesh.
#
# Offline after the first run: the Python tools live in sdks/python/.venv and
# are reinstalled only when requirements-dev.txt changes; npm ci runs only when
# package-lock.json changes (and prefers npm's cache); Maven runs with -o once
# a build has filled ~/.m2 for the current pom.xml. An SDK whose toolchain is
# missing is skipped with a warning on a developer's machine; in CI (CI set,
# as .ci/run does) or with SDKS_REQUIRE_ALL=1 that is an error.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

action=build
case "${1:-}" in build|test) action=$1; shift ;; esac
sdks=("$@")
[ ${#sdks[@]} -gt 0 ] || sdks=(python go java typescript)

SDKS="$ROOT/sdks"
STAMPS="${AGENTIDP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agentidp}/sdk-stamps"
mkdir -p "$STAMPS"

warn() { printf '\033[1;33mwarning:\033[0m %s\n' "$*" >&2; }

# toolchain SDK: what the SDK's toolchain is, for messages.
toolchain() {
  case "$1" in
    python) echo "Python 3.9 or later with venv and pip" ;;
    go) echo "Go" ;;
    java) echo "a JDK 17 or later and Maven" ;;
    typescript) echo "Node.js 20 or later with npm" ;;
  esac
}

# need TOOL... : true if every tool is on PATH; otherwise skips the SDK, or
# fails in CI (or with SDKS_REQUIRE_ALL=1), where no SDK may go untested.
need() {
  local t
  for t in "$@"; do
    if ! command -v "$t" >/dev/null; then
      if in_ci || [ -n "${SDKS_REQUIRE_ALL:-}" ]; then
        die "$t is not installed: the $sdk SDK needs $(toolchain "$sdk"), and in CI every SDK is built and tested"
      fi
      warn "skipping the $sdk SDK: $t is not installed (it needs $(toolchain "$sdk")); in CI this fails the run"
      return 1
    fi
  done
}

# fresh NAME FILE...: true if FILE's contents are those recorded for NAME.
fresh() {
  local name=$1; shift
  [ -f "$STAMPS/$name" ] && [ "$(cat "$@" | sha256sum)" = "$(cat "$STAMPS/$name")" ]
}
stamp() {
  local name=$1; shift
  cat "$@" | sha256sum >"$STAMPS/$name"
}

timed() {
  local start=$SECONDS
  "$@"
  log "$sdk: $action done in $((SECONDS - start))s"
}

# ── Python ──────────────────────────────────────────────────────────────────
python_deps() {
  cd "$SDKS/python"
  if [ ! -x .venv/bin/python ] || ! fresh python-venv requirements-dev.txt .venv/pyvenv.cfg; then
    log "python: sdks/python/.venv with requirements-dev.txt"
    rm -rf .venv
    python3 -m venv .venv
    .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
    stamp python-venv requirements-dev.txt .venv/pyvenv.cfg
  fi
}
python_build() {
  python_deps
  log "python: mypy --strict (SDK and quickstart for Python 3.9; tests for 3.11)"
  .venv/bin/mypy
  .venv/bin/mypy --python-version 3.11 tests
  # The syntax of 3.9 itself, when that interpreter is at hand.
  local py39
  py39=$(ls "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.9*/bin/python3.9 2>/dev/null | head -1 || true)
  [ -n "$py39" ] || py39=$(command -v python3.9 || true)
  if [ -n "$py39" ] && "$py39" -c 'pass' 2>/dev/null; then
    "$py39" -m compileall -q -x '/__pycache__/' src examples >/dev/null && log "python: compiles under $("$py39" --version)"
  fi
  log "python: wheel"
  rm -rf dist build
  .venv/bin/python -m pip wheel -q --disable-pip-version-check --no-build-isolation --no-deps -w dist .
  ls dist/*.whl
}
python_test() {
  python_deps
  .venv/bin/python -m pytest -q -rs tests
}

# ── Go ──────────────────────────────────────────────────────────────────────
go_build() {
  cd "$SDKS/go"
  log "go: gofmt, go vet, go build"
  local unformatted
  unformatted=$(gofmt -l .)
  [ -z "$unformatted" ] || die "gofmt -w needed: $unformatted"
  go vet ./...
  go build ./...
}
go_test() {
  cd "$SDKS/go"
  go test -count=1 ./...
}

# ── Java ────────────────────────────────────────────────────────────────────
# mvnq runs Maven quietly (Debian's Maven 3.8 prints colour resets even then).
mvnq() {
  mvn -B -q -Dstyle.color=never "$@" 2>&1 | sed $'s/\x1b\\[0m//g'
  return "${PIPESTATUS[0]}"
}
mvn_run() {
  cd "$SDKS/java"
  local key out
  key="java-m2-$(printf '%s' "$*" | tr -c 'a-zA-Z0-9' '_')"
  out=$(mktemp)
  # Offline once a run of these goals has resolved everything pom.xml needs.
  if fresh "$key" pom.xml; then
    if mvnq -o "$@" >"$out"; then
      cat "$out"; rm -f "$out"; return 0
    fi
    # A real failure is reported as is; a missing artifact sends us online.
    if ! grep -q -e 'offline mode' -e 'has not been downloaded' -e 'Cannot access' "$out"; then
      cat "$out"; rm -f "$out"; return 1
    fi
  fi
  rm -f "$out"
  mvnq "$@"
  stamp "$key" pom.xml
}
java_build() {
  log "java: javac -Xlint:all -Werror, jar"
  mvn_run -DskipTests verify
  ls "$SDKS"/java/target/idp-sdk-*.jar
}
java_test() {
  mvn_run verify
  # Surefire's summary (quiet mode prints none).
  cat target/surefire-reports/*.txt | grep -h "Tests run" || true
}

# ── TypeScript ──────────────────────────────────────────────────────────────
ts_deps() {
  cd "$SDKS/typescript"
  if [ ! -d node_modules ] || ! fresh ts-npm package-lock.json; then
    log "typescript: npm ci"
    npm ci --prefer-offline --no-audit --no-fund --loglevel=error
    stamp ts-npm package-lock.json
  fi
}
typescript_build() {
  ts_deps
  log "typescript: tsc --strict, npm pack"
  npm run -s typecheck
  rm -f ./*.tgz
  npm pack --silent >/dev/null
  # The packed build is plain ESM that Node loads without TypeScript.
  node --input-type=module -e "
    import { AgentIdPClient, VERSION } from './dist/index.js';
    const c = new AgentIdPClient({ baseUrl: 'http://127.0.0.1:1', clientId: 'a', clientSecret: 's' });
    if (typeof c.agents.list !== 'function' || !VERSION) process.exit(1);"
  ls ./*.tgz
}
typescript_test() {
  ts_deps
  npx vitest run
}

for sdk in "${sdks[@]}"; do
  case "$sdk" in
    python) need python3 || continue; timed "python_$action" ;;
    go) need go gofmt || continue; timed "go_$action" ;;
    java) need java javac mvn || continue; timed "java_$action" ;;
    typescript|ts) sdk=typescript; need node npm || continue; timed "typescript_$action" ;;
    *) die "unknown SDK $sdk (python, go, java, typescript)" ;;
  esac
done
