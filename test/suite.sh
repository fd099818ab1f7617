#!/usr/bin/env bash
# `make test`: builds what the suite needs and runs it, without leaving the cores idle on a fresh machine.
# Before the suite: the Debian packages, the control plane (every integration file needs it) and
# Alertmanager (its files are among the longest). The images, the node's binaries and Prometheus, which only
# a few files need, build alongside: those files run the part's build script first, which waits for this
# build (test/cluster/lib.sh's and test/image/build.sh's locks).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .run

# Starts a build in the background with its output in .run/<name>.log; `finish` waits for it.
pids=() names=()
background() { # name command...
  local name=$1
  shift
  "$@" >".run/$name.log" 2>&1 &
  pids+=("$!") names+=("$name")
}
finish() {
  local i status=0
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" && continue
    status=1
    echo "building ${names[$i]} failed; the end of .run/${names[$i]}.log:" >&2
    tail -40 ".run/${names[$i]}.log" >&2
  done
  pids=() names=()
  return "$status"
}

bash test/cluster/packages.sh
bash test/image/setup.sh
# On a fresh machine they are built before the control plane's Go build ends; with the cache filled they are
# often all that needs building (for changed source), and the suite does not wait for them either.
background images bash test/image/build.sh
bash test/cluster/build.sh
bash test/alertmanager/build.sh
background node-and-prometheus bash -c 'bash test/cluster/build.sh node && bash test/monitoring/build.sh'
status=0
npm test || status=$?
finish || status=1
exit "$status"
