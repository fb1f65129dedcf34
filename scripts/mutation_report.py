"""The outcome of a mutation run, read from mutmut's records in the run's copy (`bash scripts/mutation.sh` calls it
there): counts per file, the score, and every survivor with its change, marked when tests/mutation-survivors.md
lists it as an equivalent mutant (one that changes nothing a user or caller can observe). A survivor is matched by
its function and its change, not by its number: mutmut's numbers within a function are not stable between runs.

    python scripts/mutation_report.py [--markdown]   # in a kept copy (KEEP=DIR), after `mutmut run`

--markdown prints the survivors nobody has judged yet as table rows for tests/mutation-survivors.md.
"""

from __future__ import annotations

import collections
import json
import re
import sys
from pathlib import Path

# Exit codes as mutmut reads them: 1 and 3 killed, 0 survived, 5 and 33 no tests, -11 a crash of the tests' process
# (killed too: the mutant broke it), the rest a time-out.
OUTCOME = {1: "killed", 3: "killed", -11: "crashed", 0: "survived", 5: "no tests", 33: "no tests", -24: "timeout",
           24: "timeout", 36: "timeout", 152: "timeout", 255: "timeout", 37: "type check"}
JUDGED = Path("tests/mutation-survivors.md")


def outcomes() -> dict[str, tuple[str, str]]:
    """Mutant name -> (source file, outcome)."""
    found = {}
    for meta in sorted(Path("mutants").rglob("*.py.meta")):
        source = str(meta.relative_to("mutants"))[: -len(".meta")]
        for name, code in json.loads(meta.read_text()).get("exit_code_by_key", {}).items():
            found[name] = (source, OUTCOME.get(code, "not run" if code is None else f"exit {code}"))
    return found


def change(name: str, source: str) -> str:
    """The mutant's change as `- old / + new` (its changed lines, whitespace collapsed)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    try:
        diff = get_diff_for_mutant(name, path=source)
    except Exception as exc:  # a report line, not a reason to stop the report
        return f"(diff unavailable: {exc})"
    lines = [line for line in diff.splitlines() if line[:1] in "-+" and not line.startswith(("---", "+++"))]
    # Backticks as quotes: the change is quoted as code in Markdown.
    return " / ".join(re.sub(r"\s+", " ", line).strip() for line in lines).replace("`", "'")


def function_of(name: str) -> str:
    return name.rsplit("__mutmut_", 1)[0]


def judged_changes() -> set[tuple[str, str]]:
    """(function, change) of every mutant tests/mutation-survivors.md lists as equivalent: the table rows of its
    "Equivalent survivors" section."""
    if not JUDGED.exists():
        return set()
    section = JUDGED.read_text().partition("\n## Equivalent survivors")[2].partition("\n## ")[0]
    rows = re.findall(r"^\| `([\w.ǁ]+__mutmut_\d+)` \| `(.*)` \|$", section, re.MULTILINE)
    return {(function_of(name), text.replace("\\|", "|")) for name, text in rows}


def main() -> None:
    found = outcomes()
    judged_keys = judged_changes()
    by_file: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for source, kind in found.values():
        by_file[source][kind] += 1
    counts = collections.Counter(kind for _, kind in found.values())
    survivors = sorted(name for name, (_, kind) in found.items() if kind == "survived")
    changes = {name: change(name, found[name][0]) for name in survivors}
    judged = {name for name in survivors if (function_of(name), changes[name]) in judged_keys}
    equivalent = sorted(judged)
    if "--markdown" in sys.argv:
        for name in survivors:
            if name not in judged:
                print(f"| `{name}` | `{changes[name].replace('|', chr(92) + '|')}` |")
        return
    for source, file_counts in sorted(by_file.items()):
        dead = file_counts["killed"] + file_counts["crashed"] + file_counts["timeout"]
        tested = dead + file_counts["survived"]
        print(f"{source}: " + ", ".join(f"{n} {kind}" for kind, n in file_counts.most_common())
              + f" ({100 * dead / max(tested, 1):.1f} %)")
    for kind, n in counts.most_common():
        print(f"{kind:>10}: {n}")
    dead = counts["killed"] + counts["crashed"] + counts["timeout"] + counts["type check"]
    tested = dead + counts["survived"]
    print(f"score: {dead}/{tested} = {100 * dead / max(tested, 1):.1f} % of the mutants that have tests"
          f" ({counts['no tests']} have none)")
    print(f"judged equivalent in {JUDGED}: {len(equivalent)} of the {len(survivors)} survivors; without them: "
          f"{dead}/{tested - len(equivalent)} = {100 * dead / max(tested - len(equivalent), 1):.1f} %")
    print("survivors not judged (kill them with a test, or list them with the reason they are equivalent):")
    for name in survivors:
        if name not in judged:
            print(f"  {name}: {changes[name]}")


if __name__ == "__main__":
    main()
