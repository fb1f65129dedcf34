#!/usr/bin/env bash
# Mutation testing of the core with mutmut (PyPI): every mutant (a small change to the code) must make a test fail.
# Not part of the normal test run. Runs in a temporary copy of the checkout, niced, on 2 worker processes.
#
#   bash scripts/mutation.sh          # quick: journal, outbox, cursor, backoff against their fast tests (461 mutants)
#   bash scripts/mutation.sh core     # the whole core with the integration tests (about 3,900 mutants: hours)
#   KEEP=/tmp/mut bash scripts/mutation.sh   # keep the copy (then: cd /tmp/mut && mutmut show NAME)
#   SOURCE_TREE=DIR bash scripts/mutation.sh  # measure the tree in DIR (another revision) with these settings
#
# Prints the count per outcome, the score (killed + timed out) / (all mutants that have tests), and every survivor.
# Survivors judged equivalent, with the reason, are listed in tests/mutation-survivors.md.
set -euo pipefail

scope=${1:-quick}
cd "$(dirname "$0")/.."
repo=$PWD
python=${PYTHON:-$repo/.venv/bin/python}
[ -x "$python" ] || python=python3
"$python" -c 'import mutmut' 2>/dev/null || "$python" -m pip install -q "mutmut>=3.3"

case "$scope" in
    quick)
        # The journal and the desktop's outbox, cursor and backoff, against their fast tests (no GUI, no runner
        # process): 461 mutants.
        mutate='"runner/journal.py", "desktop/core/outbox.py", "desktop/core/cursor.py", "desktop/core/backoff.py"'
        tests='"tests/runner/test_journal.py", "tests/desktop/core", "tests/desktop/lifecycle/test_core.py"'
        ;;
    core)
        mutate='"runner/journal.py", "runner/sessions.py", "runner/server.py", "runner/process.py",
    "desktop/core/*", "desktop/connection.py"'
        tests='"tests/runner/test_journal.py", "tests/runner/test_durability.py", "tests/runner/test_process.py",
    "tests/runner/test_protocol.py", "tests/runner/test_security_and_bad_input.py",
    "tests/runner/test_sessions_live.py", "tests/runner/test_catchup.py", "tests/desktop/core",
    "tests/desktop/lifecycle/test_core.py", "tests/desktop/qt/test_connection.py", "tests/desktop/test_one_path.py"'
        ;;
    *) echo "usage: bash scripts/mutation.sh [quick|core]" >&2; exit 2 ;;
esac

work=${KEEP:-$(mktemp -d /tmp/nightshift-mutation.XXXXXX)}
mkdir -p "$work"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
# The checkout as it is (tracked and new files, uncommitted changes included), without caches or old runs; or,
# to measure another revision with this scope, SOURCE_TREE=DIR (e.g. from `git archive REV | tar -x -C DIR`).
if [ -n "${SOURCE_TREE:-}" ]; then
    cp -a "$SOURCE_TREE/." "$work"
    cp pyproject.toml "$work/pyproject.toml"
else
    git ls-files -z --cached --others --exclude-standard | tar -c --null -T - | tar -x -C "$work"
fi

# This scope's files and tests replace those of pyproject.toml's [tool.mutmut] (which is the core scope).
"$python" - "$work/pyproject.toml" "$mutate" "$tests" <<'EOF'
import re, sys
path, mutate, tests = sys.argv[1:]
text = open(path).read()
for key, value in (("only_mutate", mutate), ("pytest_add_cli_args_test_selection", tests)):
    text, n = re.subn(rf"(?ms)^{key} = \[.*?^\]", lambda m: f"{key} = [\n    {value},\n]", text, count=1)
    assert n == 1, key
open(path, "w").write(text)
EOF

cd "$work"
export QT_QPA_PLATFORM=offscreen
started=$(date +%s)
nice -n 10 "$python" -m mutmut run --max-children 2 >"$work/mutmut.log" 2>&1 || {
    tail -40 "$work/mutmut.log" >&2
    exit 1
}
echo "mutmut ($scope): $(( ($(date +%s) - started) / 60 )) min"

# Outcomes from mutmut's per-file records (exit codes: 1 killed, 0 survived, 33 no tests, -24/24 timeout).
"$python" - <<'EOF'
import collections, json, pathlib
outcome = {1: "killed", 0: "survived", 33: "no tests", -24: "timeout", 24: "timeout", 36: "timeout", 37: "type check"}
counts: collections.Counter[str] = collections.Counter()
survivors = []
for meta in sorted(pathlib.Path("mutants").rglob("*.py.meta")):
    for name, code in json.loads(meta.read_text()).get("exit_code_by_key", {}).items():
        kind = outcome.get(code, "not run" if code is None else f"exit {code}")
        counts[kind] += 1
        if kind == "survived":
            survivors.append(name)
for kind, n in counts.most_common():
    print(f"{kind:>10}: {n}")
dead = counts["killed"] + counts["timeout"] + counts["type check"]
tested = dead + counts["survived"]
print(f"score: {dead}/{tested} = {100 * dead / max(tested, 1):.1f} % of the mutants that have tests"
      f" ({counts['no tests']} have none)")
print("survivors:")
for name in survivors:
    print("  " + name)
EOF
