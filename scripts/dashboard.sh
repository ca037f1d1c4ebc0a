#!/usr/bin/env bash
# The web dashboard (dashboard/): install its dependencies from the lockfile,
# lint and type-check it, run its unit tests, build it (dashboard/dist, which
# the gateway serves at / when it exists; the build prints the bundle size).
#
#   scripts/dashboard.sh            all of the above
#   scripts/dashboard.sh build      only install and build (make dev)
#   scripts/dashboard.sh browser    install Debian's Chromium if it is missing
#                                   (deploy/local/dashboarde2e skips without it,
#                                   and fails in CI)
#
# Offline after the first run: npm ci runs only when package-lock.json changed
# since the last install, and prefers npm's cache.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DASH="$ROOT/dashboard"
STAMPS="${AGENTIDP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agentidp}/sdk-stamps"
mkdir -p "$STAMPS"

if [ "${1:-}" = browser ]; then
  if [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then exit 0; fi
  run_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  log "apt-get install chromium (the dashboard's browser tests)"
  run_root apt-get update -qq
  run_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  exit 0
fi
only_build=""
if [ "${1:-}" = build ]; then only_build=1; shift; fi
[ $# -eq 0 ] || die "usage: scripts/dashboard.sh [build|browser]"

command -v node >/dev/null || die "Node.js 20+ is not installed (the dashboard needs it)"
cd "$DASH"
start=$SECONDS
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -d node_modules ] || [ "$(cat "$STAMPS/dashboard-npm" 2>/dev/null)" != "$lock_sum" ]; then
  log "dashboard: npm ci"
  npm ci --prefer-offline --no-audit --no-fund --loglevel=error
  echo "$lock_sum" >"$STAMPS/dashboard-npm"
fi
if [ -n "$only_build" ]; then
  log "dashboard: vite build"
  npm run -s build
  exit 0
fi
log "dashboard: eslint"
npm run -s lint
log "dashboard: tsc --strict"
npm run -s typecheck
log "dashboard: vitest"
npm test --silent
log "dashboard: vite build"
npm run -s build
log "dashboard: done in $((SECONDS - start))s"
