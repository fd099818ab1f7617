#!/usr/bin/env bash
# Runs the benchmarks (test/bench/*.bench.ts, or only BENCH=<name>) one after another against a
# control plane of their own (or $KUBECONFIG). Each prints its figures and writes bench/results/<name>.md.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
export PATH=$repo/node_modules/.bin:$PATH
eval "$(bash test/cluster/paths.sh | sed 's/^/export /')"

if [ -z "${KUBECONFIG:-}" ]; then
  run_dir=$repo/.run/bench-$$
  bash test/cluster/up.sh "$run_dir"
  trap 'bash test/cluster/down.sh "$run_dir"' EXIT
  export KUBECONFIG=$run_dir/admin.kubeconfig
fi
"$KUBECTL" apply --server-side --force-conflicts -f crds/ >/dev/null
"$KUBECTL" wait --for=condition=Established --timeout=60s -f crds/ >/dev/null

mkdir -p bench/results
# The image ships the compiled code of both commands (Dockerfile); so do the processes measured here.
export BENCH_COMPILE_CACHE=$repo/.run/compile-cache
NODE_COMPILE_CACHE=$BENCH_COMPILE_CACHE node --input-type=module \
  -e "await import('./operator/commands/run.ts'); await import('./operator/commands/receiver.ts'); await import('./operator/cli.ts')" 2>/dev/null
for bench in test/bench/*.bench.ts; do
  name=$(basename "$bench" .bench.ts)
  if [ -n "${BENCH:-}" ] && [ "$BENCH" != "$name" ]; then continue; fi
  echo "== $name"
  node "$bench" "bench/results/$name.md"
done
