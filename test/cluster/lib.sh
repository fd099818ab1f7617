# Shared paths for the control-plane scripts; sourced, not run.
CLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$CLUSTER_DIR/versions.env"
CACHE_ROOT=${DINGTALK_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dingtalk-operator}
BIN_DIR=$CACHE_ROOT/bin/kube-$KUBE_VERSION-etcd-$ETCD_VERSION
TOOLS_DIR=$CACHE_ROOT/tools/$(echo "$TOOLS_NPM_PACKAGE" | tr '/@' '__')
RUN_DIR=${CLUSTER_RUN_DIR:-$CACHE_ROOT/run/default}
log() { printf '[cluster] %s\n' "$*" >&2; }
