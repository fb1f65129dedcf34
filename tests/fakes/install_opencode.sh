#!/bin/sh
# Install the real OpenCode CLI into <repo>/.cache/opencode for the offline end-to-end tests
# (tests/runner/agents/test_opencode_real.py); prints the binary's path. The tests find it through
# NIGHTSHIFT_REAL_OPENCODE or, failing that, that folder.
#
#   tests/fakes/install_opencode.sh
#   OPENCODE_VERSION=1.18.33 tests/fakes/install_opencode.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
exec sh "$here/install_npm_cli.sh" "${NIGHTSHIFT_OPENCODE_CACHE:-$root/.cache/opencode}" \
    opencode-ai opencode "${OPENCODE_VERSION:-latest}"
