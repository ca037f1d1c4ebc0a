#!/usr/bin/env bash
# Regenerates libs/gen from libs/proto with buf (built from the Go module
# proxy; pinned in tools/buf/go.mod) and the protoc plugins pinned in
# libs/go.mod. Usage: scripts/proto.sh [generate|lint]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

bin="$(tools_bin)"
build_buf_tools "$bin"
export PATH="$bin:$PATH"

cd "$ROOT/libs"
case "${1:-generate}" in
  generate)
    buf lint
    rm -rf gen/agentidp
    buf generate
    log "generated libs/gen"
    ;;
  lint) buf lint ;;
  *) die "usage: $0 [generate|lint]" ;;
esac
