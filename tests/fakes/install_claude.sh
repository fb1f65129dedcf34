#!/bin/sh
# Install the real Claude Code CLI into <repo>/.cache/claude-code for the offline end-to-end tests
# (tests/runner/agents/test_claude_real.py); prints the binary's path. The tests find it through
# NIGHTSHIFT_CLAUDE_PATH or, failing that, that folder.
#
#   tests/fakes/install_claude.sh
#   CLAUDE_CODE_VERSION=2.1.197 tests/fakes/install_claude.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
exec sh "$here/install_npm_cli.sh" "${NIGHTSHIFT_CLAUDE_CACHE:-$root/.cache/claude-code}" \
    @anthropic-ai/claude-code claude "${CLAUDE_CODE_VERSION:-latest}"
