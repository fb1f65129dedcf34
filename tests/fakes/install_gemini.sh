#!/bin/sh
# Install the real Gemini CLI into <repo>/.cache/gemini-cli for the offline end-to-end tests
# (tests/runner/agents/test_gemini_real.py); prints the binary's path. The tests find it through
# NIGHTSHIFT_REAL_GEMINI or, failing that, that folder.
#
#   tests/fakes/install_gemini.sh
#   GEMINI_CLI_VERSION=0.61.0 tests/fakes/install_gemini.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
exec sh "$here/install_npm_cli.sh" "${NIGHTSHIFT_GEMINI_CACHE:-$root/.cache/gemini-cli}" \
    @google/gemini-cli gemini "${GEMINI_CLI_VERSION:-latest}"
