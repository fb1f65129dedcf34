#!/usr/bin/env bash
# Set up Nightshift from a source checkout on a fresh machine, then start the app or run the test suite.
#
#   bash scripts/setup.sh app     # install (system libraries, .venv) and start the desktop app
#   bash scripts/setup.sh test    # install (system libraries, .venv, test tools, agent CLIs) and run all tests
#                                 # (with CI=true, a test whose CLI or tool is missing fails, never skips)
#   bash scripts/setup.sh package # install the build tools, build the .deb, install it into a temporary root and
#                                 # smoke-test it there (packaging/build.py linux)
#
# System packages are installed with apt-get (Debian/Ubuntu) when it is there and we are root or have sudo;
# elsewhere, install the equivalents yourself (see README.md). Everything else goes into ./.venv and ./.cache.
set -euo pipefail

mode=${1:-}
case "$mode" in
    app|test|package) ;;
    *) echo "usage: bash scripts/setup.sh app|test|package" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."

# Libraries Qt's xcb and offscreen platforms load, D-Bus (tests run a private bus; the app listens for sleep/wake),
# what the tests use to run the real Claude Code CLI (node, npm), and OpenSSH (the ssh:// runner tests start their
# own sshd on loopback).
APT_RUNTIME=(libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libfreetype6 libdbus-1-3
             libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0
             libxcb-render-util0 libxcb-image0 libxcb-xkb1 libx11-xcb1 libglib2.0-0 fonts-dejavu-core)
APT_TEST=(dbus xvfb xauth procps openssl nodejs npm desktop-file-utils dpkg-dev binutils git
          openssh-client openssh-server)
# The .deb's Depends are computed from what the bundle links: those libraries must be installed to build it.
APT_PACKAGE=(dpkg-dev binutils desktop-file-utils xvfb libxcb-sync1 libxcb-xfixes0
             libwayland-client0 libwayland-cursor0 libwayland-egl1)

apt_install() {
    command -v apt-get >/dev/null 2>&1 || { echo "setup: no apt-get; install these yourself if missing: $*" >&2; return 0; }
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            echo "setup: not root and no sudo; install these yourself if missing: $*" >&2; return 0; fi
    fi
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    # node/npm may come from elsewhere (nvm, a tarball): don't install Debian's on top of a working one.
    if command -v npm >/dev/null 2>&1; then
        local kept=()
        for p in "${missing[@]}"; do [ "$p" = nodejs ] || [ "$p" = npm ] || kept+=("$p"); done
        missing=("${kept[@]}")
    fi
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "setup: installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "setup: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
    exit 2
fi

if [ "$mode" = app ]; then
    apt_install "${APT_RUNTIME[@]}"
    [ -x .venv/bin/python ] || "$python" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e .
    exec .venv/bin/nightshift "${@:2}"
fi

if [ "$mode" = package ]; then
    apt_install "${APT_RUNTIME[@]}" "${APT_PACKAGE[@]}"
    exec "$python" packaging/build.py linux --runs 3 "${@:2}"
fi

had_sshd=1; command -v dpkg-query >/dev/null 2>&1 && had_sshd=$(dpkg-query -W -f='${Status}' openssh-server 2>/dev/null | grep -c "install ok installed" || true)
apt_install "${APT_RUNTIME[@]}" "${APT_TEST[@]}"
# Debian starts the ssh service when openssh-server is installed; the tests only need the sshd program (they run
# their own on loopback), so a machine that had no SSH server does not get one listening because of this script.
if [ "$had_sshd" = 0 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    $sudo_cmd systemctl disable --now ssh.service >/dev/null 2>&1 || true
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[test]"

# The real agent CLIs (current versions from the npm registry) for the offline end-to-end tests. Their tests say
# why they skip if one fails to install, except in CI (CI=true, as .ci/run sets), where they fail: CI must test
# against the real CLIs.
install_cli() {  # install_cli LABEL INSTALLER VAR
    local bin
    if bin=$(sh "tests/fakes/$2"); then
        export "$3=$bin"
    else
        echo "setup: $1 could not be installed; its end-to-end tests will be skipped (fail under CI=true)" >&2
    fi
}
install_cli "the Claude Code CLI" install_claude.sh NIGHTSHIFT_CLAUDE_PATH
install_cli "the Codex CLI" install_codex.sh NIGHTSHIFT_CODEX_PATH
install_cli "the Gemini CLI" install_gemini.sh NIGHTSHIFT_GEMINI_PATH
install_cli "OpenCode" install_opencode.sh NIGHTSHIFT_OPENCODE_PATH

export QT_QPA_PLATFORM=offscreen
# pytest exits 5 when it collected no test: with `set -e` that fails the run, as it must.
.venv/bin/python -m pytest -rs "${@:2}"
