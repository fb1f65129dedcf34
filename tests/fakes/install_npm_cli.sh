#!/bin/sh
# Install an agent CLI from the npm registry into a project-local cache folder, for the offline end-to-end tests.
# Idempotent: does nothing when the wanted version ("latest": the registry's current one) is already there.
# Prints the installed binary's path.
#
#   tests/fakes/install_npm_cli.sh PREFIX PACKAGE BINARY VERSION
#
# install_claude.sh and install_codex.sh call this with their package.
set -eu

prefix=$1 package=$2 binary=$3 version=$4
bin="$prefix/node_modules/.bin/$binary"

if ! command -v npm >/dev/null 2>&1; then
    echo "install_npm_cli.sh: npm is not installed; cannot install $package" >&2
    exit 2
fi

mkdir -p "$prefix"
stamp="$prefix/.installed-version"
if [ "$version" = latest ]; then
    # "latest" means the current release: ask the registry which that is, so a cached older one is replaced.
    # Offline, keep whatever is installed.
    if current=$(npm view "$package" version 2>/dev/null) && [ -n "$current" ]; then
        version=$current
    elif [ -x "$bin" ]; then
        echo "install_npm_cli.sh: cannot reach the npm registry; keeping the installed $package" >&2
        echo "$bin"
        exit 0
    fi
fi
if [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; then
    echo "$bin"
    exit 0
fi

# A private package.json keeps npm from walking up into the repository.
[ -f "$prefix/package.json" ] || printf '{"name":"nightshift-%s-cache","private":true}\n' "$binary" >"$prefix/package.json"
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "$package@$version" >&2
if [ ! -x "$bin" ]; then
    echo "install_npm_cli.sh: npm finished but $bin is missing" >&2
    exit 1
fi
printf '%s' "$version" >"$stamp"
echo "$bin"
