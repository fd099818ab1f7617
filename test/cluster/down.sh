#!/usr/bin/env bash
# Stops the processes up.sh started, by their recorded PIDs only, and removes the run directory.
# Usage: down.sh [RUN_DIR]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUN_DIR=$(realpath -m "${1:-$RUN_DIR}")
[ -d "$RUN_DIR" ] || exit 0
for name in kube-controller-manager apiserver etcd; do
  pidfile=$RUN_DIR/$name.pid
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || continue
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
done
rm -rf "$RUN_DIR"
log "stopped"
