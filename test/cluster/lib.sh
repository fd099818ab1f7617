# Shared paths for the control-plane scripts; sourced, not run.
CLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$CLUSTER_DIR/versions.env"
CACHE_ROOT=${DINGTALK_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dingtalk-operator}
BIN_DIR=$CACHE_ROOT/bin/kube-$KUBE_VERSION-etcd-$ETCD_VERSION
ALERTMANAGER=$CACHE_ROOT/bin/alertmanager-$ALERTMANAGER_VERSION/alertmanager
PROMETHEUS=$CACHE_ROOT/bin/prometheus-$PROMETHEUS_VERSION/prometheus
PROMTOOL=$CACHE_ROOT/bin/prometheus-$PROMETHEUS_VERSION/promtool
TOOLS_DIR=$CACHE_ROOT/tools/$(echo "$TOOLS_NPM_PACKAGE" | tr '/@' '__')
COREDNS_BIN=$CACHE_ROOT/bin/coredns-$COREDNS_VERSION/coredns
IMAGE_DIR=$CACHE_ROOT/images
# Image archives are named after the content of testapp/, so a change there rebuilds them.
TESTAPP_HASH=$(cat "$CLUSTER_DIR"/testapp/* | sha256sum | cut -c1-12)
PAUSE_ARCHIVE=$IMAGE_DIR/pause-$TESTAPP_HASH.tar
TESTAPP_ARCHIVE=$IMAGE_DIR/testapp-$TESTAPP_HASH.tar
# The images the node tests run; pods use them with imagePullPolicy Never.
PAUSE_IMAGE=dingtalk-operator.local/pause:test
TESTAPP_IMAGE=dingtalk-operator.local/testapp:test
RUN_DIR=${CLUSTER_RUN_DIR:-$CACHE_ROOT/run/default}
log() { printf '[cluster] %s\n' "$*" >&2; }
# Builds run under a lock per part in the cache. `make test` builds some parts alongside the suite, and a
# test that needs such a part runs the same script: it waits for that build instead of doing the work a
# second time, then finds the part there (each build checks for its output under the lock).
hold_lock() { # name: held until the (sub)shell ends
  mkdir -p "$CACHE_ROOT/locks"
  exec 9>>"$CACHE_ROOT/locks/$1.lock"
  flock 9
}
with_lock() { # name command...
  (
    hold_lock "$1"
    shift
    "$@"
  )
}
