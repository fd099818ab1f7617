#!/usr/bin/env bash
# The operator's main job for a newcomer. Without KUBECONFIG: starts a local control plane and the
# DingTalk emulator (both stopped again on exit), installs the CRDs, applies the examples in namespace
# "demo" against the emulator, and runs the operator in the foreground with readable logs.
# With KUBECONFIG set: installs the CRDs into that cluster and runs the operator against real DingTalk.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
export PATH=$repo/node_modules/.bin:$PATH
eval "$(bash test/cluster/paths.sh | sed 's/^/export /')"
operator_flags=()

if [ -z "${KUBECONFIG:-}" ]; then
  run_dir=$repo/.run/local
  bash test/cluster/up.sh "$run_dir"
  export KUBECONFIG=$run_dir/admin.kubeconfig
  emulator_port=${EMULATOR_PORT:-8780}
  PORT=$emulator_port node test/emulator/main.ts >"$run_dir/emulator.log" 2>&1 &
  emulator_pid=$!
  trap 'kill $emulator_pid 2>/dev/null || true; bash test/cluster/down.sh "$run_dir"' EXIT
  emulator=http://127.0.0.1:$emulator_port
  for _ in $(seq 100); do curl -fsS "$emulator/_control/stats" >/dev/null 2>&1 && break; sleep 0.1; done
  operator_flags=(--dingtalk-robot-url "$emulator" --dingtalk-api-url "$emulator" --allowed-webhook-hosts 127.0.0.1
    --leader-election-namespace default)
fi

"$KUBECTL" apply --server-side --force-conflicts -f crds/ >/dev/null
"$KUBECTL" wait --for=condition=Established --timeout=60s -f crds/ >/dev/null
echo "[local] CRDs installed. Try: KUBECONFIG=$KUBECONFIG $KUBECTL get dingtalk -A" >&2
if [ -n "${emulator:-}" ]; then
  node test/local/seed-demo.ts "$emulator" "$KUBECTL"
  (sleep 30 && "$KUBECTL" apply -n demo -f examples/alarm-event-resolved.yaml >/dev/null &&
    echo "[local] resolved the demo alarm; the resolved message follows at the rule's next group interval" >&2) &
fi

node operator/cli.ts run "${operator_flags[@]}" "$@" | pino-pretty --colorize --singleLine --ignore pid,hostname,component --translateTime SYS:HH:MM:ss
