#!/usr/bin/env bash
# Installs the Debian packages the local node needs (containerd, runc, CNI plugins, socat, buildah),
# with apt-get, when any is missing. Needs root, as on CI.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
packages=(containerd runc containernetworking-plugins socat buildah iptables iproute2 util-linux)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  log "missing Debian packages (install them as root): ${missing[*]}"
  exit 1
fi
log "installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
