#!/usr/bin/env bash
# Builds Alertmanager (version pinned in test/cluster/versions.env) from its Go module into the same cache
# as the control plane's binaries; does nothing when it is already there. `make setup` runs it, and so do
# the tests that need it, before their first use.
set -euo pipefail
. "$(dirname "$0")/../cluster/lib.sh"

hold_lock alertmanager
[ -x "$ALERTMANAGER" ] && exit 0
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-trimpath GOPROXY=${GOPROXY:-}
[ -n "$GOPROXY" ] || unset GOPROXY
export GOMODCACHE=$CACHE_ROOT/gomod GOCACHE=$CACHE_ROOT/gobuild
mkdir -p "$CACHE_ROOT/wrap" "$(dirname "$ALERTMANAGER")"
start=$(date +%s)
log "building alertmanager v$ALERTMANAGER_VERSION"
module=$(cd "$CACHE_ROOT" && go mod download -json "github.com/prometheus/alertmanager@v$ALERTMANAGER_VERSION" |
  sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
# The module leaves out the web UI (ui/app/dist, built with npm in Alertmanager's own release), which
# ui/web.go embeds; the tests use the API only, so a copy of the module gets a placeholder page. The copy
# is private to this run, so two builds at once do not trip over each other.
src=$(mktemp -d "$CACHE_ROOT/wrap/alertmanager-$ALERTMANAGER_VERSION.XXXXXX")
trap 'rm -rf "$src"' EXIT
cp -r "$module/." "$src" && chmod -R u+w "$src"
mkdir -p "$src/ui/app/dist"
echo '<!doctype html><title>Alertmanager</title>' >"$src/ui/app/dist/index.html"
v=github.com/prometheus/common/version
(cd "$src" && go build -ldflags "-s -w -X $v.Version=$ALERTMANAGER_VERSION -X $v.Branch=HEAD -X $v.Revision=v$ALERTMANAGER_VERSION" \
  -o "$ALERTMANAGER.tmp.$$" ./cmd/alertmanager)
mv "$ALERTMANAGER.tmp.$$" "$ALERTMANAGER"
log "alertmanager ready in $(( $(date +%s) - start ))s: $ALERTMANAGER"
