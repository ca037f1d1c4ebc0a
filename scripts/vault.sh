#!/usr/bin/env bash
# Builds the real HashiCorp Vault server from the Go module proxy (no package
# of it is reachable here) into the per-machine cache, once. The versions in
# tools/vault/go.mod are ones that compile together. The first build takes
# several minutes; later runs return at once.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

bin="$(tools_bin)/vault"
stamp="$bin.go.sum"
if [ -x "$bin" ] && [ -f "$stamp" ] && cmp -s "$stamp" "$ROOT/tools/vault/go.sum"; then
  exit 0
fi
log "building the Vault server from the Go module proxy (once per machine; several minutes)"
(cd "$ROOT/tools/vault" && GOWORK=off go build -trimpath -o "$bin.tmp" .)
mv "$bin.tmp" "$bin"
cp "$ROOT/tools/vault/go.sum" "$stamp"
"$bin" version >&2
