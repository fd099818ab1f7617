#!/usr/bin/env bash
# Prints where the control-plane binaries and tools live (KEY=value lines), for scripts and tests.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
printf 'BIN_DIR=%s\nKUBECTL=%s\nHELM=%s\nKUBE_VERSION=%s\nETCD_VERSION=%s\nTESTAPP_IMAGE=%s\nTESTAPP_ARCHIVE=%s\nALERTMANAGER=%s\nPROMETHEUS=%s\nPROMTOOL=%s\n' \
  "$BIN_DIR" "$TOOLS_DIR/kubectl" "$TOOLS_DIR/helm" "$KUBE_VERSION" "$ETCD_VERSION" "$TESTAPP_IMAGE" "$TESTAPP_ARCHIVE" "$ALERTMANAGER" \
  "$PROMETHEUS" "$PROMTOOL"
