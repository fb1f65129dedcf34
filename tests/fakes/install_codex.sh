#!/bin/sh
# Install the real Codex CLI into <repo>/.cache/codex for the offline end-to-end tests
# (tests/runner/agents/test_codex_real.py); prints the binary's path. The tests find it through
# NIGHTSHIFT_REAL_CODEX or, failing that, that folder.
#
#   tests/fakes/install_codex.sh
#   CODEX_VERSION=0.171.0 tests/fakes/install_codex.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
exec sh "$here/install_npm_cli.sh" "${NIGHTSHIFT_CODEX_CACHE:-$root/.cache/codex}" \
    @openai/codex codex "${CODEX_VERSION:-latest}"
