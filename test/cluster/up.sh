#!/usr/bin/env bash
# Starts etcd, kube-apiserver and kube-controller-manager on free loopback ports and writes an
# admin kubeconfig to $RUN_DIR/admin.kubeconfig. Builds the binaries first if they are missing.
# Usage: up.sh [RUN_DIR]   (default: the cache's run/default)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUN_DIR=$(realpath -m "${1:-$RUN_DIR}")

if [ -f "$RUN_DIR/apiserver.pid" ] && kill -0 "$(cat "$RUN_DIR/apiserver.pid")" 2>/dev/null; then
  log "already running: $RUN_DIR/admin.kubeconfig"
  exit 0
fi
bash "$CLUSTER_DIR/build.sh"
rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR/pki"
started=$(date +%s%N)

free_ports() { # prints N free loopback ports, asking the kernel for each
  node -e '
    const net = require("node:net"); const n = Number(process.argv[1]); const servers = [];
    (async () => { for (let i = 0; i < n; i++) { const s = net.createServer(); servers.push(s);
      await new Promise((r) => s.listen(0, "127.0.0.1", r)); }
      console.log(servers.map((s) => s.address().port).join(" ")); servers.forEach((s) => s.close()); })();' "$1"
}
read -r ETCD_PORT PEER_PORT API_PORT KCM_PORT <<<"$(free_ports 4)"

pki=$RUN_DIR/pki
ssl() { openssl "$@" >/dev/null 2>&1; }
ssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=dingtalk-operator-test-ca" -keyout "$pki/ca.key" -out "$pki/ca.crt"
issue() { # name subject extfile-content
  ssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$pki/$1.key" -out "$pki/$1.csr"
  printf '%s\n' "$3" >"$pki/$1.ext"
  ssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 365 \
    -extfile "$pki/$1.ext" -out "$pki/$1.crt"
}
issue apiserver "/CN=kube-apiserver" "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth"
issue admin "/O=system:masters/CN=admin" "extendedKeyUsage=clientAuth"
issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=clientAuth"
ssl genrsa -out "$pki/sa.key" 2048
ssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub"

"$BIN_DIR/etcd" --name test --data-dir "$RUN_DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
  --initial-cluster "test=http://127.0.0.1:$PEER_PORT" --unsafe-no-fsync --log-level warn \
  >"$RUN_DIR/etcd.log" 2>&1 &
echo $! >"$RUN_DIR/etcd.pid"

wait_for() { # what command...
  local what=$1; shift
  for _ in $(seq 600); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  log "$what did not become ready; last log lines:"; tail -20 "$RUN_DIR/$what.log" >&2; exit 1
}
wait_for etcd curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

# Coordinated leader election (beta, off by default) is on so that Leases keep its spec fields
# (strategy, preferredHolder): the leader election test checks that a renewal writes back fields it
# does not know.
# The apiserver's command is kept as a script so a test can stop it and start it again (start-apiserver.sh).
# The kubernetes Service's endpoints are left to node-up.sh: pods reach the API server through the
# node's link to the host, not at the loopback address the reconciler would write.
cat >"$RUN_DIR/start-apiserver.sh" <<START
#!/usr/bin/env bash
"$BIN_DIR/kube-apiserver" \\
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \\
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \\
  --cert-dir="$RUN_DIR/certs" --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \\
  --client-ca-file="$pki/ca.crt" --authorization-mode=RBAC \\
  --service-account-issuer="https://127.0.0.1:$API_PORT" \\
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \\
  --service-cluster-ip-range=10.0.0.0/24 --allow-privileged=true \\
  --endpoint-reconciler-type=none \\
  --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" --kubelet-client-key="$pki/apiserver-kubelet-client.key" \\
  --kubelet-preferred-address-types=InternalIP \\
  --feature-gates=CoordinatedLeaderElection=true --runtime-config=coordination.k8s.io/v1beta1=true \\
  --audit-policy-file="$CLUSTER_DIR/audit-policy.yaml" --audit-log-path="$RUN_DIR/audit.log" \\
  >>"$RUN_DIR/apiserver.log" 2>&1 &
echo \$! >"$RUN_DIR/apiserver.pid"
START
bash "$RUN_DIR/start-apiserver.sh"
wait_for apiserver curl -fsS --cacert "$pki/ca.crt" "https://127.0.0.1:$API_PORT/readyz"

kubeconfig=$RUN_DIR/admin.kubeconfig
kubectl() { "$TOOLS_DIR/kubectl" --kubeconfig="$kubeconfig" "$@"; }
kubectl config set-cluster local --server="https://127.0.0.1:$API_PORT" --certificate-authority="$pki/ca.crt" --embed-certs=true >/dev/null
kubectl config set-credentials admin --client-certificate="$pki/admin.crt" --client-key="$pki/admin.key" --embed-certs=true >/dev/null
kubectl config set-context local --cluster=local --user=admin >/dev/null
kubectl config use-context local >/dev/null

# The quota controller learns of the CRDs, installed after it started, on its 30 s discovery resync; a
# quota it took before that counts their objects only at the next full resync (5 min by default).
"$BIN_DIR/kube-controller-manager" --kubeconfig="$kubeconfig" \
  --authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
  --controllers=garbage-collector-controller,namespace-controller,serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller,clusterrole-aggregation-controller,resourcequota-controller \
  --resource-quota-sync-period=15s \
  --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
  --use-service-account-credentials=false --leader-elect=false \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  >"$RUN_DIR/kube-controller-manager.log" 2>&1 &
echo $! >"$RUN_DIR/kube-controller-manager.pid"
wait_for kube-controller-manager kubectl get serviceaccount default -n default

cat >"$RUN_DIR/cluster.env" <<ENV
KUBECONFIG=$kubeconfig
API_SERVER=https://127.0.0.1:$API_PORT
ETCD_ENDPOINT=http://127.0.0.1:$ETCD_PORT
KUBECTL=$TOOLS_DIR/kubectl
HELM=$TOOLS_DIR/helm
AUDIT_LOG=$RUN_DIR/audit.log
ENV
log "up in $(( ($(date +%s%N) - started) / 1000000 )) ms: KUBECONFIG=$kubeconfig"
