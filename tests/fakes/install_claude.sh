#!/bin/sh
# Install the real Claude Code CLI from the npm registry into a project-local cache folder, for the offline
# end-to-end tests (tests/runner/agents/test_claude_real.py). Idempotent: does nothing when the wanted version is
# already there. Prints the path of the installed `claude` binary on success.
#
#   tests/fakes/install_claude.sh            # installs into <repo>/.cache/claude-code
#   CLAUDE_CODE_VERSION=2.1.197 tests/fakes/install_claude.sh
#
# The tests find the binary through NIGHTSHIFT_CLAUDE_PATH or, failing that, <repo>/.cache/claude-code.
set -eu

repo_root=$(cd "$(dirname "$0")/../.." && pwd)
prefix=${NIGHTSHIFT_CLAUDE_CACHE:-"$repo_root/.cache/claude-code"}
version=${CLAUDE_CODE_VERSION:-latest}
bin="$prefix/node_modules/.bin/claude"

if ! command -v npm >/dev/null 2>&1; then
    echo "install_claude.sh: npm is not installed; cannot install @anthropic-ai/claude-code" >&2
    exit 2
fi

mkdir -p "$prefix"
stamp="$prefix/.installed-version"
if [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; then
    echo "$bin"
    exit 0
fi

# A private package.json keeps npm from walking up into the repository.
[ -f "$prefix/package.json" ] || printf '{"name":"nightshift-claude-code-cache","private":true}\n' >"$prefix/package.json"
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "@anthropic-ai/claude-code@$version" >&2
if [ ! -x "$bin" ]; then
    echo "install_claude.sh: npm finished but $bin is missing" >&2
    exit 1
fi
printf '%s' "$version" >"$stamp"
echo "$bin"
