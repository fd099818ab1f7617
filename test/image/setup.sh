#!/usr/bin/env bash
# Installs what the image scripts need from Debian's packages: buildah (builds images without a daemon)
# and mmdebstrap (assembles the Debian root filesystem of the Node base image). Nothing when present.
set -euo pipefail
missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "[image] apt-get install ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
