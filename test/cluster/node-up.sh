#!/usr/bin/env bash
# Starts a node for the control plane that up.sh started in RUN_DIR: containerd + runc with a CNI
# bridge, kubelet, kube-proxy and CoreDNS, plus kube-scheduler and the workload controllers
# (Deployments, ReplicaSets, Endpoints, ...). Imports the pause and test images. Idempotent.
#
# The node is a network namespace, a mount namespace and a cgroup of its own, so several clusters
# on one machine stay apart (kube-proxy's iptables rules, the bridge, containerd's mounts) and
# down.sh can remove all of it. Addresses (slot S, the lowest one free on this machine):
#   10.243.S.1/30  host end of the link into the node; forwards to the API server on 127.0.0.1
#   10.243.S.2/30  the node's address (kubelet, InternalIP)
#   10.244.S.0/24  pods, on the bridge cni0 inside the node; 10.244.S.1 is the bridge and CoreDNS
#   10.0.0.0/24    Services (the API server's range), handled by kube-proxy inside the node
# The node has no default route: nothing leaves the machine.
# Usage: node-up.sh [RUN_DIR]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUN_DIR=$(realpath -m "${1:-$RUN_DIR}")
[ -f "$RUN_DIR/cluster.env" ] || { log "no control plane in $RUN_DIR (run up.sh first)"; exit 1; }
N=$RUN_DIR/node
exec 9>>"$RUN_DIR/node.lock"
flock 9
# The daemons started below inherit fd 9; a lock is the open file's, so unlock it on the way out rather
# than leave it held for as long as they run (a second caller would wait forever).
trap 'flock -u 9' EXIT
if [ -f "$N/node.env" ] && kill -0 "$(cat "$N/kubelet.pid" 2>/dev/null)" 2>/dev/null; then
  log "node already running"
  exit 0
fi
if [ -d "$N" ]; then bash "$CLUSTER_DIR/down.sh" --node-only "$RUN_DIR"; fi
bash "$CLUSTER_DIR/packages.sh"
bash "$CLUSTER_DIR/build.sh" node
started=$(date +%s%N)
# shellcheck disable=SC1091
. "$RUN_DIR/cluster.env"
API_PORT=${API_SERVER##*:}
NODE_NAME=dingtalk-operator-node
mkdir -p "$N"/{ns,pki,cni/net.d,cni/ipam,containerd,kubelet,pod-logs}
kubectl() { "$KUBECTL" --kubeconfig="$KUBECONFIG" "$@"; }

# A slot: the lowest S whose network namespace does not exist yet, taken under a machine-wide lock.
exec 8>>"$CACHE_ROOT/node-slots.lock"
flock 8
for S in $(seq 1 250); do ip netns list | awk '{print $1}' | grep -qx "dingtalk-operator-$S" || break; done
NETNS=dingtalk-operator-$S
ip netns add "$NETNS"
flock -u 8
HOST_IP=10.243.$S.1 NODE_IP=10.243.$S.2 POD_CIDR=10.244.$S.0/24 BRIDGE_IP=10.244.$S.1
VETH=dto$S
CGROUP=dingtalk-operator-$S
cat >"$N/node.env" <<ENV
NODE_NAME=$NODE_NAME
NETNS=$NETNS
VETH=$VETH
CGROUP=$CGROUP
HOST_IP=$HOST_IP
NODE_IP=$NODE_IP
POD_CIDR=$POD_CIDR
DNS_IP=$BRIDGE_IP
CONTAINERD_ADDRESS=$N/containerd/containerd.sock
ENV

# Network: a veth pair from the host into the node, and the pods' bridge inside it.
in_node() { ip netns exec "$NETNS" "$@"; }
ip link add "$VETH" type veth peer name "${VETH}n" netns "$NETNS"
ip addr add "$HOST_IP/30" dev "$VETH"
ip link set "$VETH" up
ip route add "$POD_CIDR" via "$NODE_IP" dev "$VETH"
in_node ip link set lo up
in_node ip link set "${VETH}n" name eth0
in_node ip addr add "$NODE_IP/30" dev eth0
in_node ip link set eth0 up
in_node ip link add cni0 type bridge
in_node ip addr add "$BRIDGE_IP/24" dev cni0
in_node ip link set cni0 up
in_node sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1

# Mounts: a mount namespace of the node's own, so what containerd and the kubelet mount (overlay
# root filesystems, volumes, pod network namespaces) never shows on the host and goes with it.
mount --bind "$N/ns" "$N/ns"
mount --make-private "$N/ns"
touch "$N/ns/mnt"
mkdir -p /run/containerd /var/lib/cni /var/log/containers
unshare --mount="$N/ns/mnt" --propagation private true
nsenter --mount="$N/ns/mnt" -- bash -c '
  # Copies of other network namespaces would keep them alive after their owners delete them.
  findmnt -rn -o TARGET | grep "^/run/netns/" | xargs -r -n1 umount -l
  # Paths containerd and the kubelet use without a setting to move them.
  for d in /run/containerd /var/lib/cni /var/log/containers; do mount -t tmpfs -o mode=0755 node "$d"; done'

# Cgroup: every process of the node (and every container) lives under /$CGROUP in each hierarchy.
for c in /sys/fs/cgroup/*/; do
  [ -f "$c/cgroup.procs" ] || continue
  mkdir -p "$c$CGROUP"
  if [ -f "$c/cpuset.cpus" ]; then
    cat "$c/cpuset.cpus" >"$c$CGROUP/cpuset.cpus"
    cat "$c/cpuset.mems" >"$c$CGROUP/cpuset.mems"
  fi
done

# run.sh NAME [--host] CMD...: starts CMD in the node's cgroup (and namespaces, unless --host),
# logging to NAME.log, its PID in NAME.pid. The start-NAME.sh scripts use it, so a test can stop
# one component (say the kubelet) by its PID and start it again.
cat >"$N/run.sh" <<'RUN'
#!/usr/bin/env bash
set -euo pipefail
N=$(dirname "$0")
. "$N/node.env"
name=$1; shift
enter=(nsenter --mount="$N/ns/mnt" --net="/run/netns/$NETNS" --)
if [ "$1" = --host ]; then enter=(); shift; fi
"${enter[@]}" /bin/bash -c 'for c in /sys/fs/cgroup/*/"$0"/cgroup.procs; do echo $$ >"$c"; done; exec "$@"' \
  "$CGROUP" "$@" >>"$N/$name.log" 2>&1 &
echo $! >"$N/$name.pid"
RUN
start() { # name [--host] cmd...
  local name=$1; shift
  printf '#!/usr/bin/env bash\nexec bash %q %q' "$N/run.sh" "$name" >"$N/start-$name.sh"
  printf ' %q' "$@" >>"$N/start-$name.sh"
  echo >>"$N/start-$name.sh"
  bash "$N/start-$name.sh"
}
wait_for() { # what command...
  local what=$1; shift
  for _ in $(seq 1200); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  log "$what did not become ready; last log lines:"; tail -30 "$N/$what.log" >&2; exit 1
}

# Identities, signed by the cluster's CA.
pki=$RUN_DIR/pki
issue() { # name subject
  openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$N/pki/$1.key" -out "$N/pki/$1.csr" >/dev/null 2>&1
  printf 'extendedKeyUsage=clientAuth\n' >"$N/pki/$1.ext"
  openssl x509 -req -in "$N/pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 365 \
    -extfile "$N/pki/$1.ext" -out "$N/pki/$1.crt" >/dev/null 2>&1
}
issue kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
issue kube-proxy "/CN=system:kube-proxy"
node_kubeconfig() { # file cert key — reaches the API server through the host end of the link
  local k=(--kubeconfig="$1")
  "$KUBECTL" config "${k[@]}" set-cluster local --server="https://$HOST_IP:$API_PORT" \
    --certificate-authority="$pki/ca.crt" --embed-certs=true --tls-server-name=kubernetes >/dev/null
  "$KUBECTL" config "${k[@]}" set-credentials user --client-certificate="$2" --client-key="$3" --embed-certs=true >/dev/null
  "$KUBECTL" config "${k[@]}" set-context local --cluster=local --user=user >/dev/null
  "$KUBECTL" config "${k[@]}" use-context local >/dev/null
}
node_kubeconfig "$N/kubelet.kubeconfig" "$N/pki/kubelet.crt" "$N/pki/kubelet.key"
node_kubeconfig "$N/kube-proxy.kubeconfig" "$N/pki/kube-proxy.crt" "$N/pki/kube-proxy.key"
node_kubeconfig "$N/coredns.kubeconfig" "$pki/admin.crt" "$pki/admin.key"

# The API server as pods see it: the kubernetes Service points at the host end of the link, where
# socat hands connections to the API server on 127.0.0.1 (up.sh turns the API server's own
# endpoint reconciler off, since it would write 127.0.0.1 there).
start api-forward --host socat "TCP-LISTEN:$API_PORT,bind=$HOST_IP,fork,reuseaddr" "TCP:127.0.0.1:$API_PORT"
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Endpoints
metadata: {name: kubernetes, namespace: default}
subsets:
  - addresses: [{ip: "$HOST_IP"}]
    ports: [{name: https, port: $API_PORT, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kubernetes
  namespace: default
  labels: {kubernetes.io/service-name: kubernetes, endpointslice.kubernetes.io/managed-by: dingtalk-operator-node}
addressType: IPv4
endpoints: [{addresses: ["$HOST_IP"], conditions: {ready: true}}]
ports: [{name: https, port: $API_PORT, protocol: TCP}]
---
# The kubelet's rights, as the Node authorizer would give them on a full cluster.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: dingtalk-operator:nodes}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:node}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: system:nodes}]
YAML

# Scheduler and the controllers that make pods out of workloads (the control plane runs only the
# ones every test needs).
start kube-scheduler --host "$BIN_DIR/kube-scheduler" --kubeconfig="$KUBECONFIG" \
  --authentication-kubeconfig="$KUBECONFIG" --authorization-kubeconfig="$KUBECONFIG" \
  --leader-elect=false --bind-address=127.0.0.1 --secure-port=0
start workload-controllers --host "$BIN_DIR/kube-controller-manager" --kubeconfig="$KUBECONFIG" \
  --authentication-kubeconfig="$KUBECONFIG" --authorization-kubeconfig="$KUBECONFIG" \
  --controllers=deployment-controller,replicaset-controller,statefulset-controller,daemonset-controller,job-controller,cronjob-controller,endpoints-controller,endpointslice-controller,disruption-controller,node-lifecycle-controller,taint-eviction-controller,pod-garbage-collector-controller,ttl-after-finished-controller \
  --use-service-account-credentials=false --leader-elect=false --bind-address=127.0.0.1 --secure-port=0

# containerd with runc and the CNI bridge; everything under the node's directory.
cat >"$N/cni/net.d/10-pods.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "pods",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$N/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$BRIDGE_IP"}]],
        "routes": [{"dst": "10.0.0.0/24"}, {"dst": "10.243.$S.0/30"}]
      }
    }
  ]
}
JSON
cat >"$N/containerd/config.toml" <<TOML
version = 2
root = "$N/containerd/root"
state = "$N/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "$N/containerd/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$N/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  netns_mounts_under_state_dir = true
  # Lowering a process's oom_score_adj needs CAP_SYS_RESOURCE, which some sandboxes (this one)
  # withhold even from root; containers then start at containerd's own value instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$N/cni/net.d"
TOML
start containerd containerd --config "$N/containerd/config.toml"
ctr=(ctr --address "$N/containerd/containerd.sock" -n k8s.io)
wait_for containerd "${ctr[@]}" version
"${ctr[@]}" images import "$PAUSE_ARCHIVE" >/dev/null
"${ctr[@]}" images import "$TESTAPP_ARCHIVE" >/dev/null

# The kubelet changes these kernel settings; down.sh puts them back.
for s in vm.overcommit_memory kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes; do
  echo "$s=$(sysctl -n "$s")"
done >"$N/sysctl.saved"

cat >"$N/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has cgroup v1 and no systemd.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP
containerRuntimeEndpoint: unix://$N/containerd/containerd.sock
podLogsDir: $N/pod-logs
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
clusterDomain: cluster.local
clusterDNS: [$BRIDGE_IP]
resolvConf: ""
# Images are imported, never pulled: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# The node shares the machine's disk with everything else on it. The default thresholds (10-15 % of it
# free) are often crossed on a developer's or a CI machine's disk, and the node would then evict the
# test pods and refuse new ones; it evicts only when the disk is nearly full.
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1Gi
  imagefs.available: 1Gi
  nodefs.inodesFree: 5%
  imagefs.inodesFree: 5%
YAML
start kubelet "$BIN_DIR/kubelet" --config="$N/kubelet.yaml" --kubeconfig="$N/kubelet.kubeconfig" \
  --root-dir="$N/kubelet" --cert-dir="$N/kubelet/pki" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP"

cat >"$N/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $N/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Machine-wide conntrack settings stay as they are.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
start kube-proxy "$BIN_DIR/kube-proxy" --config="$N/kube-proxy.yaml"

cat >"$N/Corefile" <<COREFILE
.:53 {
    bind $BRIDGE_IP
    errors
    health 127.0.0.1:8080
    ready 127.0.0.1:8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $N/coredns.kubeconfig local
        pods insecure
        ttl 5
    }
}
COREFILE
start coredns "$COREDNS_BIN" -conf "$N/Corefile"

node_ready() { [ "$(kubectl get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
wait_for kubelet node_ready
wait_for coredns in_node curl -fsS http://127.0.0.1:8181/ready
wait_for kube-proxy in_node curl -fsS http://127.0.0.1:10256/healthz
log "node up in $(( ($(date +%s%N) - started) / 1000000 )) ms: $NODE_NAME"
