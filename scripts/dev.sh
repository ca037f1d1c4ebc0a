#!/usr/bin/env bash
# make dev: installs what is missing, builds, and runs the whole mesh on
# 127.0.0.1 until Ctrl-C (deploy/local/cmd/devstack does the orchestration).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

if [ "${1:-}" != -reset ]; then
  "$ROOT/scripts/deps.sh"
  # The web dashboard, served by the gateway at / (skipped without Node.js).
  if command -v node >/dev/null; then "$ROOT/scripts/dashboard.sh" build; fi
fi
mkdir -p .dev/bin
go build -o .dev/bin/devstack ./deploy/local/cmd/devstack
exec .dev/bin/devstack -dir .dev "$@"
