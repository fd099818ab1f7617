#!/usr/bin/env bash
# Prints where the control-plane binaries and tools live (KEY=value lines), for scripts and tests.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
printf 'BIN_DIR=%s
KUBECTL=%s
HELM=%s
KUBE_VERSION=%s
ETCD_VERSION=%s
TESTAPP_IMAGE=%s
TESTAPP_ARCHIVE=%s
ALERTMANAGER=%s
' \
  "$BIN_DIR" "$TOOLS_DIR/kubectl" "$TOOLS_DIR/helm" "$KUBE_VERSION" "$ETCD_VERSION" "$TESTAPP_IMAGE" "$TESTAPP_ARCHIVE" "$ALERTMANAGER"
