#!/usr/bin/env bash
# Builds Prometheus and promtool (version pinned in test/cluster/versions.env) from Prometheus's Go module
# into the same cache as the control plane's binaries; does nothing when both are already there.
# `make setup` runs it, and so do the tests that need them, before their first use.
set -euo pipefail
. "$(dirname "$0")/../cluster/lib.sh"

hold_lock prometheus
[ -x "$PROMETHEUS" ] && [ -x "$PROMTOOL" ] && exit 0
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-trimpath GOWORK=off GOPROXY=${GOPROXY:-}
[ -n "$GOPROXY" ] || unset GOPROXY
export GOMODCACHE=$CACHE_ROOT/gomod GOCACHE=$CACHE_ROOT/gobuild
# Prometheus 3.X.Y is published as the Go module v0.3XX.Y.
IFS=. read -r major minor patch <<<"$PROMETHEUS_VERSION"
module_version=v0.$((major * 100 + minor)).$patch
out=$(dirname "$PROMETHEUS")
mkdir -p "$out"
start=$(date +%s)
log "building prometheus and promtool $PROMETHEUS_VERSION (module $module_version)"
module=$(cd "$CACHE_ROOT" && go mod download -json "github.com/prometheus/prometheus@$module_version" |
  sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
# Without the builtinassets tag the web UI is read from disk when asked for, so the module builds without
# the UI that Prometheus's release builds with npm; the tests use the HTTP API only. remove_all_sd leaves
# out every service discovery (and the cloud SDKs they pull in): the tests scrape fixed addresses.
tmp=$(mktemp -d "$out/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
v=github.com/prometheus/common/version
(cd "$module" && go build -tags remove_all_sd \
  -ldflags "-s -w -X $v.Version=$PROMETHEUS_VERSION -X $v.Branch=HEAD -X $v.Revision=$module_version" \
  -o "$tmp/" ./cmd/prometheus ./cmd/promtool)
mv "$tmp/promtool" "$PROMTOOL"
mv "$tmp/prometheus" "$PROMETHEUS"
log "prometheus and promtool ready in $(( $(date +%s) - start ))s: $out"
