#!/usr/bin/env bash
# buildah with the image scripts' storage (see lib.sh), for tests that look into the built images.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bah "$@"
