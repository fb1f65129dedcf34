"""Chaos: kill -9 the headless runner at random points of random operations, restart it, check the invariants.

Operations: create (command agents streaming output, fake Claude sessions), send, rename, delete, answer a
permission request, and plain waiting while agents stream. After every restart:

- every change the runner acknowledged is on disk and served (sessions created, messages sent, titles, deletions,
  permission answers);
- every session's seqs run 1..head with no hole and no repeat;
- no agent process of the killed runner survives it (found by an env marker in /proc);
- no session is left `running` or `needs_approval`;
- at the end, with every session deleted, the runner's open file descriptors are back to a fresh runner's.

`NIGHTSHIFT_CHAOS_LONG=1` runs many more cycles (see README, "Chaos runs"); the normal run does a few seconds' worth.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import TOKEN
from tests.fakes.view_client import ViewClient

PY = sys.executable
FAKE_CLAUDE = Path(__file__).resolve().parents[1] / "fakes" / "fake_claude.py"
LONG = os.environ.get("NIGHTSHIFT_CHAOS_LONG") == "1"
CYCLES = 60 if LONG else 6
OPS_PER_CYCLE = (5, 25) if LONG else (3, 10)
STREAM = [PY, "-u", "-c", "import itertools,time\nfor i in itertools.count(): print('line', i); time.sleep(0.001)"]
LIVE = ("running", "needs_approval")


@dataclass
class Expected:
    """What the runner has acknowledged so far: the model every restart is checked against."""

    sessions: dict[str, str] = field(default_factory=dict)  # id -> last acknowledged title
    maybe_titles: dict[str, set[str]] = field(default_factory=dict)  # renames sent but not acknowledged
    deleted: set[str] = field(default_factory=set)
    maybe_deleted: set[str] = field(default_factory=set)
    sent: dict[str, set[str]] = field(default_factory=dict)  # id -> client_msg_ids acknowledged
    answered: dict[str, set[str]] = field(default_factory=dict)  # id -> request_ids acknowledged
    claude: set[str] = field(default_factory=set)


class ChaosRunner:
    def __init__(self, data_dir: str) -> None:
        self.data_dir = data_dir
        self.proc: subprocess.Popen[str] | None = None
        self.marker = ""

    def start(self) -> str:
        self.marker = uuid.uuid4().hex
        env = {**os.environ, "NIGHTSHIFT_TOKEN": TOKEN, "NIGHTSHIFT_CLAUDE_PATH": str(FAKE_CLAUDE),
               "NIGHTSHIFT_CHAOS_MARK": self.marker}
        env.pop("FAKE_CLI_MODES", None)
        log = os.path.join(os.path.dirname(self.data_dir), "runner.log")
        with open(log, "a") as stderr:
            self.proc = subprocess.Popen([PY, "-m", "runner", "--port", "0", "--data-dir", self.data_dir],
                                         stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("listening on"):
            self.proc.wait(30)
            with open(log) as f:
                raise AssertionError(f"the runner did not start (exit {self.proc.returncode}):\n{f.read()[-3000:]}")
        return line.split()[-1]

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc.stdout.close()  # type: ignore[union-attr]

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(30)
        self.proc.stdout.close()  # type: ignore[union-attr]

    def fds(self) -> int:
        assert self.proc is not None
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))


def processes_marked(marker: str) -> list[int]:
    """Live (non-zombie) processes whose environment carries `marker`: agents started by that runner."""
    found = []
    needle = f"NIGHTSHIFT_CHAOS_MARK={marker}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle not in f.read():
                    continue
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state != b"Z":
            found.append(int(entry))
    return found


async def wait_until(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def run_ops(view: ViewClient, rng: random.Random, expected: Expected, kill_after: int,
                  runner: ChaosRunner) -> None:
    """Random operations; the runner is killed (-9) during the `kill_after`-th one, at a random moment after its
    request went out (before or after the reply)."""

    async def reply_or_kill(request: dict, last: bool) -> dict | None:
        fut = asyncio.ensure_future(view.request(request))
        if not last:
            return await fut
        await asyncio.sleep(rng.random() * 0.03)
        runner.kill()
        fut.cancel()
        return None

    for n in range(kill_after + 1):
        alive = [s for s in expected.sessions if s not in expected.deleted | expected.maybe_deleted]
        op = rng.choice(["create", "create_claude", "send", "rename", "delete", "answer", "stream"])
        last = n == kill_after
        try:
            if op == "create" or not alive:
                title = f"cmd {uuid.uuid4().hex[:6]}"
                reply = await reply_or_kill({"type": "create", "argv": STREAM, "title": title}, last)
                if reply is None:
                    return None
                expected.sessions[reply["session"]["id"]] = title
            elif op == "create_claude":
                title = f"claude {uuid.uuid4().hex[:6]}"
                reply = await view.request({"type": "create", "agent": "claude", "title": title})
                expected.sessions[reply["session"]["id"]] = title
                expected.claude.add(reply["session"]["id"])
            elif op == "send":
                targets = [s for s in alive if s in expected.claude]
                if not targets:
                    continue
                sid = rng.choice(targets)
                cmid = uuid.uuid4().hex
                text = "mode:permission" if rng.random() < 0.5 else "hello"
                reply = await reply_or_kill(
                    {"type": "send", "session": sid, "text": text, "client_msg_id": cmid}, last)
                if reply is None:
                    return None
                if reply["type"] == "sent":
                    expected.sent.setdefault(sid, set()).add(cmid)
            elif op == "rename":
                sid = rng.choice(alive)
                title = f"renamed {uuid.uuid4().hex[:6]}"
                expected.maybe_titles.setdefault(sid, set()).add(title)
                reply = await reply_or_kill({"type": "rename", "session": sid, "title": title}, last)
                if reply is None:
                    return None
                if reply["type"] == "ok":
                    expected.sessions[sid] = title
                    expected.maybe_titles[sid] = set()
            elif op == "delete":
                sid = rng.choice(alive)
                expected.maybe_deleted.add(sid)
                reply = await reply_or_kill({"type": "delete", "session": sid}, last)
                if reply is None:
                    return None
                if reply["type"] == "ok":
                    expected.deleted.add(sid)
            elif op == "answer":
                open_requests = []
                for sid in alive:
                    if sid not in expected.claude:
                        continue
                    events = view.events.get(sid, [])
                    answered = {e["request_id"] for e in events if e["kind"] == "permission_answer"}
                    open_requests += [(sid, e["request_id"]) for e in events
                                      if e["kind"] == "permission_request" and e["request_id"] not in answered]
                if not open_requests:
                    continue
                sid, rid = rng.choice(open_requests)
                reply = await reply_or_kill({"type": "answer", "session": sid, "request_id": rid,
                                             "behavior": rng.choice(["allow", "deny"])}, last)
                if reply is None:
                    return None
                if reply["type"] == "ok":
                    expected.answered.setdefault(sid, set()).add(rid)
            else:  # let agents stream a little, then maybe die mid-stream
                await asyncio.sleep(rng.random() * 0.05)
                if last:
                    runner.kill()
                    return None
            if op in ("create", "create_claude", "send"):
                for sid in list(expected.sessions):
                    if sid not in expected.deleted | expected.maybe_deleted and sid not in view.events:
                        await view.request({"type": "attach", "session": sid})
        except ConnectionError:
            break
    runner.kill()
    return None


async def check_invariants(view: ViewClient, expected: Expected, old_marker: str) -> None:
    listed = {s["id"]: s for s in (await view.request({"type": "list"}))["sessions"]}
    for sid in expected.deleted:
        assert sid not in listed, f"acknowledged delete of {sid} undone"
    for sid in expected.maybe_deleted - expected.deleted:
        if sid not in listed:
            expected.deleted.add(sid)  # the delete reached the disk without its reply: fine
    expected.maybe_deleted = set()
    for sid, title in expected.sessions.items():
        if sid in expected.deleted:
            continue
        assert sid in listed, f"acknowledged session {sid} lost"
        assert listed[sid]["title"] in {title} | expected.maybe_titles.get(sid, set()), (sid, listed[sid]["title"])
        expected.sessions[sid] = listed[sid]["title"]
        expected.maybe_titles[sid] = set()
        assert listed[sid]["status"] not in LIVE, f"{sid} left {listed[sid]['status']} after a restart"
    # Seqs 1..head, the acknowledged messages and answers present.
    for sid, info in listed.items():
        view.events.pop(sid, None)
        await view.request({"type": "attach", "session": sid, "after": 0})
        await view.wait_for(lambda sid=sid, head=info["head"]: (view.seqs(sid) or [0])[-1] >= head)
        seqs = view.seqs(sid)
        assert seqs == list(range(1, len(seqs) + 1)), f"{sid}: holes or repeats in seqs"
        events = view.events[sid]
        cmids = {e.get("client_msg_id") for e in events if e["kind"] == "user"}
        missing = expected.sent.get(sid, set()) - cmids
        assert not missing, f"{sid}: acknowledged messages lost: {missing}"
        answers = {e["request_id"] for e in events if e["kind"] == "permission_answer"
                   and e["behavior"] in ("allow", "deny")}
        lost = expected.answered.get(sid, set()) - answers
        assert not lost, f"{sid}: acknowledged answers lost: {lost}"
    await wait_until(lambda: not processes_marked(old_marker))


async def test_random_kill_9_during_random_operations_keeps_every_promise(tmp_path: Path) -> None:
    seed = int(os.environ.get("NIGHTSHIFT_CHAOS_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"chaos seed {seed} (NIGHTSHIFT_CHAOS_SEED={seed} repeats this run)", flush=True)
    runner = ChaosRunner(str(tmp_path / "data"))
    expected = Expected()
    runner.start()
    fresh_fds = runner.fds()
    runner.kill()
    kills = 0
    old_marker = runner.marker
    for cycle in range(CYCLES):
        url = runner.start()
        view = await ViewClient.open(url, TOKEN)
        try:
            await check_invariants(view, expected, old_marker)
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}, after kill {kills}: {exc}") from None
        old_marker = runner.marker
        await run_ops(view, rng, expected, rng.randint(*OPS_PER_CYCLE), runner)
        kills += 1
        await view.close()
        print(f"cycle {cycle}: {len(expected.sessions) - len(expected.deleted)} sessions", flush=True)
    url = runner.start()
    view = await ViewClient.open(url, TOKEN)
    try:
        try:
            await check_invariants(view, expected, old_marker)
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}, after kill {kills}: {exc}") from None
        for s in (await view.request({"type": "list"}))["sessions"]:
            assert (await view.request({"type": "delete", "session": s["id"]}))["type"] == "ok"
        await view.close()
        await wait_until(lambda: runner.fds() <= fresh_fds, timeout=30)
    finally:
        runner.stop()
    print(f"chaos: seed {seed}, {kills} kills, {len(expected.sessions)} sessions, "
          f"{sum(map(len, expected.sent.values()))} messages, {sum(map(len, expected.answered.values()))} answers, "
          "0 lost, 0 duplicated")
