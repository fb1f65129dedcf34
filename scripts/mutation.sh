#!/usr/bin/env bash
# Mutation testing of the core with mutmut (PyPI): every mutant (a small change to the code) must make a test fail.
# Not part of the normal test run. Runs in a temporary copy of the checkout, niced, with 6 mutants under test at once
# (many of their tests wait on the network rather than compute: 6 keep 2 cores busy; MUTATION_CHILDREN=N to change).
#
#   bash scripts/mutation.sh          # the scope of pyproject.toml's [tool.mutmut] (2,251 mutants)
#   bash scripts/mutation.sh NAME...  # only these mutants, in a kept copy (KEEP=DIR of an earlier run)
#   KEEP=/tmp/mut bash scripts/mutation.sh   # keep the copy (then: cd /tmp/mut && mutmut show NAME)
#   SOURCE_TREE=DIR bash scripts/mutation.sh  # measure the tree in DIR (another revision) with these settings
#
# Prints the count per outcome, the score (killed + timed out) / (all mutants that have tests), and every survivor
# Survivors judged equivalent, with the reason, are listed in tests/mutation-survivors.md.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
python=${PYTHON:-$repo/.venv/bin/python}
[ -x "$python" ] || python=python3
"$python" -c 'import mutmut' 2>/dev/null || "$python" -m pip install -q "mutmut>=3.3"

work=${KEEP:-$(mktemp -d /tmp/nightshift-mutation.XXXXXX)}
mkdir -p "$work"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
# The checkout as it is (tracked and new files, uncommitted changes included), without caches or old runs; or,
# to measure another revision with this scope, SOURCE_TREE=DIR (e.g. from `git archive REV | tar -x -C DIR`).
if [ -n "${KEEP:-}" ] && [ -d "$work/mutants" ]; then
    :  # an earlier run's copy: mutmut reruns what it is asked (NAMEs) or what it has not finished
elif [ -n "${SOURCE_TREE:-}" ]; then
    cp -a "$SOURCE_TREE/." "$work"
    cp pyproject.toml "$work/pyproject.toml"
    cp scripts/mutation_plugin.py "$work/scripts/"
else
    git ls-files -z --cached --others --exclude-standard | tar -c --null -T - | tar -x -C "$work"
fi

# Test files this tree does not have (an older revision, before tests were added) are left out of the selection:
# pytest refuses a path that does not exist.
"$python" - "$work" <<'PY'
import pathlib, re, sys
work = pathlib.Path(sys.argv[1])
config = work / "pyproject.toml"
text = config.read_text()
block = re.search(r"(?ms)^pytest_add_cli_args_test_selection = \[.*?^\]", text).group(0)
kept = re.sub(r'\s*"([^"]+)",', lambda m: m.group(0) if (work / m.group(1)).exists() else "", block)
config.write_text(text.replace(block, kept))
PY

cd "$work"
export QT_QPA_PLATFORM=offscreen
# Waits for a condition (tests/desktop/qt/helpers.py) at a fifth of their usual time-out: a mutant that breaks what a
# test waits for fails in seconds, not after 30 s. Generous still for tests of under a second on 2 quiet cores.
export NIGHTSHIFT_TEST_TIMEOUT_SCALE=0.2
started=$(date +%s)
# SIGINT back to its default first: a shell starts background commands (`... &`) with SIGINT ignored, the agents
# the tests start inherit that, and the interrupt tests then fail.
nice -n 19 "$python" -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.executable, [sys.executable, *sys.argv[1:]])' \
    -m mutmut run --max-children "${MUTATION_CHILDREN:-6}" "$@" >"$work/mutmut.log" 2>&1 || {
    tail -c 3000 "$work/mutmut.log" >&2
    exit 1
}
# Wall time, and the CPU time of mutmut and everything it ran (all waited for): on a shared machine the wall time
# says little, (user + sys) / 2 estimates the wall time on 2 otherwise idle cores.
times >"$work/times.txt"  # in this shell: the second line is its children's user and sys time
echo "mutmut: $(( $(date +%s) - started )) s wall; CPU time (user, sys) of mutmut and all it ran: $(tail -1 "$work/times.txt")"

# Counts, the score, and every survivor with its change (scripts/mutation_report.py).
"$python" scripts/mutation_report.py
