"""The suite's own rules (pyproject's [tool.pytest], tests/conftest.py): a warning, a misspelt marker, or an exception
left in an asyncio task (collected or not, on asyncio's loop or qasync's) fails the test that caused it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = '''
import asyncio
import gc
import warnings

import pytest

from tests.conftest import fail_on_unretrieved_task_exceptions  # noqa: F401  (autouse: applies here)


async def boom() -> None:
    raise RuntimeError("lost")


def test_a_task_collected_with_its_exception() -> None:
    async def main() -> None:
        asyncio.get_running_loop().create_task(boom())  # nobody keeps it
        await asyncio.sleep(0.05)

    asyncio.run(main())


def test_a_task_kept_in_a_cycle_with_its_exception() -> None:
    class Holder:
        pass

    async def main() -> None:
        holder = Holder()
        holder.me = holder
        holder.task = asyncio.get_running_loop().create_task(boom())
        await asyncio.sleep(0.05)

    asyncio.run(main())


def test_a_task_on_qasync_s_loop() -> None:
    from PySide6.QtCore import QCoreApplication
    import qasync

    app = QCoreApplication.instance() or QCoreApplication([])
    loop = qasync.QEventLoop(app)
    try:
        async def main() -> None:
            loop.create_task(boom())
            await asyncio.sleep(0.05)

        loop.run_until_complete(main())
        gc.collect()
    finally:
        loop.close()


def test_a_warning() -> None:
    warnings.warn("deprecated here", DeprecationWarning)


@pytest.mark.slwo
def test_a_misspelt_marker() -> None:
    pass


def test_a_clean_task() -> None:
    async def fine() -> int:
        return 1

    async def main() -> None:
        assert await asyncio.get_running_loop().create_task(fine()) == 1

    asyncio.run(main())
'''


def _run_probe(probe: Path) -> tuple[str, dict[str, str]]:
    """Run pytest with the project's configuration on `probe`; its output and each test's last outcome."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), "--rootdir", str(REPO), "-rA",
         "-p", "no:cacheprovider", "-q", str(probe)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"},
    )
    out = result.stdout + result.stderr
    # A test that passed its call and failed its teardown is listed twice; the later line wins.
    return out, {name: outcome for outcome, name in re.findall(r"^(PASSED|FAILED|ERROR) \S*::(\w+)", out, re.M)}


def test_warnings_markers_and_lost_task_exceptions_fail_the_test_that_caused_them(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    out, outcomes = _run_probe(probe)
    # --strict-markers: the misspelt marker stops the whole module from being collected.
    assert "'slwo' not found in `markers` configuration option" in out and not outcomes, out
    probe.write_text(PROBE.replace("@pytest.mark.slwo\n", ""))
    out, outcomes = _run_probe(probe)
    assert outcomes.pop("test_a_clean_task") == "PASSED", out
    assert outcomes.pop("test_a_misspelt_marker") == "PASSED", out  # the same test, without the marker
    assert outcomes.pop("test_a_warning") == "FAILED", out  # filterwarnings = error
    # Failed in teardown, where the fixture looks (after a garbage collection).
    assert outcomes == dict.fromkeys(("test_a_task_collected_with_its_exception",
                                      "test_a_task_kept_in_a_cycle_with_its_exception",
                                      "test_a_task_on_qasync_s_loop"), "ERROR"), out
    assert out.count("exceptions left in asyncio tasks") >= 3 and "RuntimeError('lost')" in out
