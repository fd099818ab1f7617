#!/usr/bin/env bash
# Builds, with buildah and no daemon, the images the on-node tests run, as docker-archive files that
# containerd imports: the operator's image from the Dockerfile (on the locally assembled Node base, see
# base.sh) and the DingTalk emulator's image (the operator's image plus test/emulator). Each archive is
# cached under a key of everything it is built from, so a rerun with nothing changed builds nothing.
# Prints KEY=value lines: OPERATOR_IMAGE, OPERATOR_ARCHIVE, EMULATOR_IMAGE, EMULATOR_ARCHIVE.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
mkdir -p "$IMAGE_CACHE"
# One build at a time: worktrees of one machine share the cache, and the pruning below must not remove
# an image that another build is about to archive.
exec 7>>"$IMAGE_CACHE/build.lock"
flock 7
eval "$(bash "$IMAGE_DIR/base.sh")"

# The build context as the .dockerignore leaves it: package.json, the lock file and operator/ without tests.
context_files() {
  { echo package.json; echo package-lock.json; find operator -type f -name '*.ts' ! -name '*.test.ts' |
    grep -v '^operator/members/xlsx-fixture.ts$'; } | LC_ALL=C sort
}
key=$( { echo "$BASE_IMAGE"; cat Dockerfile .dockerignore; context_files | while read -r f; do echo "$f"; cat "$f"; done; } |
  content_key)
operator_image=localhost/dingtalk-operator:test-$key
operator_archive=$IMAGE_CACHE/operator-$key.tar
if [ ! -f "$operator_archive" ]; then
  ilog "building the operator image from the Dockerfile on $BASE_IMAGE"
  # The CA this machine trusts for the registry (a TLS-inspecting proxy), when it names one.
  secret=()
  [ -f "${NODE_EXTRA_CA_CERTS:-}" ] && secret=(--secret "id=npm_ca,src=$NODE_EXTRA_CA_CERTS")
  bah build --quiet --isolation chroot --layers --build-arg "BASE_IMAGE=$BASE_IMAGE" "${secret[@]}" \
    -t "$operator_image" -f Dockerfile . >/dev/null
  bah push --quiet "$operator_image" "docker-archive:$operator_archive.tmp:$operator_image"
  mv "$operator_archive.tmp" "$operator_archive"
fi
ensure_loaded "$operator_image" "$operator_archive"

# The emulator needs marked and ws (dev dependencies of the project: the page's markdown, the Stream
# gateway's WebSocket server) besides the operator's production dependencies; they are copied from
# node_modules, where package-lock.json pinned them (ws has no dependencies of its own).
emulator_files() { find test/emulator -type f -name '*.ts' ! -name '*.test.ts' | LC_ALL=C sort; }
ekey=$( { echo "$operator_image"; cat "$IMAGE_DIR/build.sh"; node -p 'require("./node_modules/marked/package.json").version';
  node -p 'require("./node_modules/ws/package.json").version';
  emulator_files | while read -r f; do echo "$f"; cat "$f"; done; } | content_key)
emulator_image=localhost/dingtalk-emulator:test-$ekey
emulator_archive=$IMAGE_CACHE/emulator-$ekey.tar
if [ ! -f "$emulator_archive" ]; then
  ilog "building the emulator image on $operator_image"
  ctr=$(bah from "$operator_image")
  bah copy --chown 0:0 "$ctr" node_modules/marked /app/node_modules/marked >/dev/null
  bah copy --chown 0:0 "$ctr" node_modules/ws /app/node_modules/ws >/dev/null
  while read -r f; do bah copy --chown 0:0 "$ctr" "$f" "/app/$f" >/dev/null; done < <(emulator_files)
  bah config --cmd '' "$ctr"
  bah config --entrypoint '["node", "test/emulator/main.ts"]' --env HOST=0.0.0.0 --env PORT=8780 --port 8780 "$ctr"
  bah commit --quiet --rm "$ctr" "$emulator_image" >/dev/null
  bah push --quiet "$emulator_image" "docker-archive:$emulator_archive.tmp:$emulator_image"
  mv "$emulator_archive.tmp" "$emulator_archive"
fi
# Archives of older builds go after a few days unused (worktrees of one machine share the cache).
find "$IMAGE_CACHE" -maxdepth 1 \( -name 'operator-*.tar' -o -name 'emulator-*.tar' \) -mtime +3 -delete
# buildah's vfs storage holds a full copy of every layer, about 280 MB each and ten a build: images of
# other builds go, with the layers only they used, so the storage stays the size of one build. An
# image still in use by a container (a test looking into it) stays; its archive rebuilds it if needed.
for stale in $(bah images --format '{{.Name}}:{{.Tag}}' | grep -E '^localhost/dingtalk-(operator|emulator):test-' |
  grep -vx -e "$operator_image" -e "$emulator_image"); do
  bah rmi "$stale" >/dev/null 2>&1 || true
done
bah rmi --prune >/dev/null 2>&1 || true
printf 'OPERATOR_IMAGE=%s\nOPERATOR_ARCHIVE=%s\nEMULATOR_IMAGE=%s\nEMULATOR_ARCHIVE=%s\n' \
  "$operator_image" "$operator_archive" "$emulator_image" "$emulator_archive"
