#!/usr/bin/env bash
# Builds lua-health (the Argo CD health-script runner the Argo CD tests use) into the project's cache,
# keyed by the hash of its sources so a rerun builds nothing, and prints the binary's path.
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
. "$dir/../../cluster/lib.sh"
hash=$(cat "$dir/main.go" "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -c1-16)
bin=$CACHE_ROOT/tools/lua-health-$hash
if [ ! -x "$bin" ]; then
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-trimpath GOMODCACHE=$CACHE_ROOT/gomod GOCACHE=$CACHE_ROOT/gobuild
  mkdir -p "$CACHE_ROOT/tools"
  (cd "$dir" && go build -o "$bin.tmp" . && mv "$bin.tmp" "$bin")
fi
echo "$bin"
