#!/bin/sh
# Install the real Codex CLI from the npm registry into a project-local cache folder, for the offline
# end-to-end tests (tests/runner/agents/test_codex_real.py). Idempotent: does nothing when the wanted version is
# already there. Prints the path of the installed `codex` binary on success.
#
#   tests/fakes/install_codex.sh            # installs into <repo>/.cache/codex
#   CODEX_VERSION=0.171.0 tests/fakes/install_codex.sh
#
# The tests find the binary through NIGHTSHIFT_REAL_CODEX or, failing that, <repo>/.cache/codex.
set -eu

repo_root=$(cd "$(dirname "$0")/../.." && pwd)
prefix=${NIGHTSHIFT_CODEX_CACHE:-"$repo_root/.cache/codex"}
version=${CODEX_VERSION:-latest}
bin="$prefix/node_modules/.bin/codex"

if ! command -v npm >/dev/null 2>&1; then
    echo "install_codex.sh: npm is not installed; cannot install @openai/codex" >&2
    exit 2
fi

mkdir -p "$prefix"
stamp="$prefix/.installed-version"
if [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; then
    echo "$bin"
    exit 0
fi

# A private package.json keeps npm from walking up into the repository.
[ -f "$prefix/package.json" ] || printf '{"name":"nightshift-codex-cache","private":true}\n' >"$prefix/package.json"
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "@openai/codex@$version" >&2
if [ ! -x "$bin" ]; then
    echo "install_codex.sh: npm finished but $bin is missing" >&2
    exit 1
fi
printf '%s' "$version" >"$stamp"
echo "$bin"
