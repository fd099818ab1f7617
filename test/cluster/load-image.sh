#!/usr/bin/env bash
# Imports an image archive (docker-archive or OCI archive, as `docker save`, `buildah push` or
# `podman save` write them) into the containerd of the node running for RUN_DIR, where pods find it
# by the name recorded in the archive (use imagePullPolicy Never or IfNotPresent).
# Usage: load-image.sh ARCHIVE [RUN_DIR]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || { log "usage: load-image.sh ARCHIVE [RUN_DIR]"; exit 2; }
archive=$(realpath "$1")
RUN_DIR=$(realpath -m "${2:-$RUN_DIR}")
[ -S "$RUN_DIR/node/containerd/containerd.sock" ] || { log "no node running for $RUN_DIR (run node-up.sh)"; exit 1; }
ctr --address "$RUN_DIR/node/containerd/containerd.sock" -n k8s.io images import "$archive"
