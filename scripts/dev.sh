#!/usr/bin/env bash
# make dev: installs what is missing, builds, and runs the whole mesh on
# 127.0.0.1 until Ctrl-C (deploy/local/cmd/devstack does the orchestration).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

[ "${1:-}" = -reset ] || "$ROOT/scripts/deps.sh"
mkdir -p .dev/bin
go build -o .dev/bin/devstack ./deploy/local/cmd/devstack
exec .dev/bin/devstack -dir .dev "$@"
