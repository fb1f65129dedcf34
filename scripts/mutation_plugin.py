"""pytest plugin for `bash scripts/mutation.sh` (loaded with `-p scripts.mutation_plugin`; does nothing otherwise).

mutmut runs, for each mutant, every selected test that executed the mutated function, in no particular order, and
stops at the first failure (-x). Two things make that slow here: a runner function is executed by desktop tests
too (their runner is in-process), and a slow test may run before the quick one that fails. So, while a mutant is
under test (mutmut sets MUTANT_UNDER_TEST to its name):
- only the tests of the mutated module's own test files run (TESTS_BY_MODULE: the behaviour-checking tests of
  that module; a mutant none of them executes ends as "no tests", exit code 5, and is counted apart);
- they run fastest first, by the durations mutmut measured in its stats run (mutants/mutmut-stats.json), so a
  killed mutant costs its quickest failing test; only a survivor pays for all of them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

RUNNER = (
    "tests/runner/test_journal.py", "tests/runner/test_protocol.py", "tests/runner/test_security_and_bad_input.py",
    "tests/runner/test_sessions_live.py", "tests/runner/test_catchup.py", "tests/runner/test_server.py",
    "tests/runner/test_sessions_restore.py", "tests/runner/test_worktrees.py", "tests/runner/test_search.py",
    "tests/runner/test_files.py",
)
DESKTOP_CORE = (
    "tests/desktop/core/test_core.py", "tests/desktop/core/test_outbox.py", "tests/desktop/core/test_outbox_basics.py",
    "tests/desktop/core/test_status_worst.py", "tests/desktop/lifecycle/test_core.py",
    "tests/desktop/core/test_status.py",
    # The core's handlers of what only a real runner sends (session changes, journal errors) run in these.
    "tests/desktop/test_connection.py", "tests/desktop/test_one_path.py",
)
CONNECTION = (
    "tests/desktop/test_connection.py", "tests/desktop/test_one_path.py", "tests/desktop/core/test_outbox.py",
    "tests/desktop/core/test_core.py",
)
TESTS_BY_MODULE: dict[str, tuple[str, ...]] = {
    # The search index's tests too: the journal runs its migration and feeds it every commit.
    "runner.journal": ("tests/runner/test_journal.py", "tests/runner/test_search_index.py"),
    "runner.sessions": RUNNER,
    "runner.server": RUNNER,
    "desktop.connection": CONNECTION,
}


SKIPPED_BY_MODULE: dict[str, tuple[str, ...]] = {
    # The index's own randomized equivalence with a scan (4 s): no journal behaviour that the other search index
    # tests do not show, and every surviving journal mutant would pay for it.
    "runner.journal": ("tests/runner/test_search_index.py::test_the_index_answers_exactly_as_a_scan",),
}


def _module(mutant: str) -> str:
    """`runner.server.xǁViewConnectionǁ_on_hello__mutmut_3` -> `runner.server`."""
    parts = mutant.split(".")
    for i, part in enumerate(parts):
        if part.startswith(("x_", "xǁ")):
            return ".".join(parts[:i])
    return ""


def _allowed(module: str) -> tuple[str, ...] | None:
    if module in TESTS_BY_MODULE:
        return TESTS_BY_MODULE[module]
    if module.startswith("desktop.core."):
        return DESKTOP_CORE
    return None  # unknown module: every selected test


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    if "__mutmut_" not in mutant:
        return  # stats, clean and forced-fail runs: everything, as mutmut chose it
    module = _module(mutant)
    allowed = _allowed(module)
    skipped = SKIPPED_BY_MODULE.get(module, ())

    def selected(item: pytest.Item) -> bool:
        return (allowed is None or item.nodeid.split("::")[0] in allowed) and item.nodeid not in skipped

    dropped = [item for item in items if not selected(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if selected(item)]
    try:
        durations = json.loads(Path("mutmut-stats.json").read_text())["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return
    items.sort(key=lambda item: durations.get(item.nodeid, durations.get("mutants/" + item.nodeid, 0.0)))
