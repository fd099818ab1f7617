# Shared settings of the image scripts; sourced, not run. buildah keeps its storage in the project's cache
# (vfs driver, chroot isolation: no daemon, no overlay or user namespaces needed, works as plain root).
# shellcheck source=../cluster/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../cluster/lib.sh"
IMAGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$IMAGE_DIR/../.." && pwd)
# shellcheck source=versions.env
. "$IMAGE_DIR/versions.env"
IMAGE_CACHE=$CACHE_ROOT/images
BUILDAH_ROOT=$CACHE_ROOT/buildah
bah() {
  buildah --root "$BUILDAH_ROOT/storage" --runroot "$BUILDAH_ROOT/run" --storage-driver vfs "$@"
}
# The first 16 hex digits of the SHA-256 of the files (or stdin) named: a content key for a cached archive.
content_key() { cat "$@" | sha256sum | cut -c1-16; }
# Makes sure an image archived at $2 is in buildah's storage under the name $1.
ensure_loaded() {
  bah inspect --type image "$1" >/dev/null 2>&1 || bah pull --quiet "docker-archive:$2" >/dev/null
}
ilog() { printf '[image] %s\n' "$*" >&2; }
