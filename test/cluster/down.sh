#!/usr/bin/env bash
# Stops what up.sh and node-up.sh started, by their recorded PIDs (and, for the node, by its own
# cgroup, which holds every container and shim), removes the node's mounts, network namespace and
# cgroups, and then the run directory.
# Usage: down.sh [--node-only] [RUN_DIR]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
node_only=false
if [ "${1:-}" = --node-only ]; then node_only=true; shift; fi
RUN_DIR=$(realpath -m "${1:-$RUN_DIR}")
[ -d "$RUN_DIR" ] || exit 0

stop_pid() { # pidfile: TERM, up to 10 s, then KILL
  [ -f "$1" ] || return 0
  local pid
  pid=$(cat "$1")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

cgroup_dirs() { # cgroup: its directory in each hierarchy that has it
  local d
  for d in /sys/fs/cgroup/*/"$1"; do if [ -d "$d" ]; then echo "$d"; fi; done
}

cgroup_pids() { # cgroup: every process in it and below, in any hierarchy
  local d
  # containerd removes a container's cgroup as its last process exits, so any of these may vanish mid-read.
  for d in $(cgroup_dirs "$1"); do find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null || true; done | sort -u
}

kill_cgroup() { # cgroup
  local pids
  for _ in $(seq 100); do
    pids=$(cgroup_pids "$1")
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    sleep 0.1
  done
  log "processes left in cgroup $1: $pids"
}

stop_node() {
  local N=$RUN_DIR/node
  [ -d "$N" ] || return 0
  if [ -f "$N/node.env" ]; then
    # shellcheck disable=SC1091
    . "$N/node.env"
    stop_pid "$N/kubelet.pid"
    kill_cgroup "$CGROUP/kubepods"
    for name in kube-proxy coredns containerd kube-scheduler workload-controllers api-forward; do
      stop_pid "$N/$name.pid"
    done
    kill_cgroup "$CGROUP"
    for d in $(cgroup_dirs "$CGROUP"); do
      find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
      if [ -d "$d" ]; then log "cgroup $d is left: a process in it did not exit"; fi
    done
    if [ -f "$N/sysctl.saved" ]; then sysctl -qw $(cat "$N/sysctl.saved") || true; fi
  fi
  # The node's mount namespace goes with its last process and this mount; its mounts with it.
  local m
  for m in $(awk '{print $5}' /proc/self/mountinfo | grep "^$N/" | sort -r); do umount -l "$m" || true; done
  if mountpoint -q "$N/ns"; then umount -l "$N/ns"; fi
  if [ -n "${NETNS:-}" ] && ip netns list | awk '{print $1}' | grep -qx "$NETNS"; then ip netns delete "$NETNS"; fi
  rm -rf "$N"
}

stop_node
if $node_only; then log "node stopped"; exit 0; fi
for name in kube-controller-manager apiserver etcd; do stop_pid "$RUN_DIR/$name.pid"; done
rm -rf "$RUN_DIR"
log "stopped"
