#!/usr/bin/env bash
# The operator's main job for a newcomer: with KUBECONFIG set, runs against that cluster; without it,
# starts a local control plane (stopped again on exit), installs the CRDs and runs the operator in
# the foreground with readable logs.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
export PATH=$repo/node_modules/.bin:$PATH
eval "$(bash test/cluster/paths.sh | sed 's/^/export /')"

if [ -z "${KUBECONFIG:-}" ]; then
  run_dir=$repo/.run/local
  bash test/cluster/up.sh "$run_dir"
  trap 'bash test/cluster/down.sh "$run_dir"' EXIT
  export KUBECONFIG=$run_dir/admin.kubeconfig
fi

"$KUBECTL" apply --server-side --force-conflicts -f crds/ >/dev/null
"$KUBECTL" wait --for=condition=Established --timeout=60s -f crds/ >/dev/null
echo "[local] CRDs installed; kubectl: KUBECONFIG=$KUBECONFIG $KUBECTL get dingtalk -A" >&2

node operator/cli.ts run "$@" | pino-pretty --colorize --translateTime SYS:HH:MM:ss
