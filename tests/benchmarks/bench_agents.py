"""Figures for the agent adapters (prints them; asserts nothing).

    python tests/benchmarks/bench_agents.py

- ClaudeTranslator alone: stream_event lines per second (sans-I/O, no process).
- ClaudeAgent + fake CLI: 20,000 text deltas from a real process through AgentProcess and the translator into a
  recording host (events per second).
- Real Claude Code CLI (if installed in .cache/claude-code) against the scripted Messages API: time from the first
  `send` of a session (process start included) to the first text delta and to the end of the turn, then the same
  for a second turn in the running process.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from runner.agents.claude import ClaudeAgent, ClaudeTranslator  # noqa: E402
from tests.fakes.anthropic_server import AnthropicServer, Reply  # noqa: E402
from tests.fakes.recording_host import RecordingHost  # noqa: E402


def bench_translator(lines: int = 200_000, per_read: int = 200) -> None:
    t = ClaudeTranslator()
    t.feed_lines([
        {"type": "stream_event", "event": {"type": "message_start", "message": {"id": "msg_1"}}},
        {
            "type": "stream_event",
            "event": {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        },
    ])
    line = {
        "type": "stream_event",
        "parent_tool_use_id": None,
        "event": {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "abcdefg"}},
    }
    read = [line] * per_read  # the agent feeds the lines of one read together
    start = time.perf_counter()
    for _ in range(lines // per_read):
        t.feed_lines(read)
    elapsed = time.perf_counter() - start
    print(f"translator: {lines / elapsed:,.0f} delta lines/s ({elapsed * 1e6 / lines:.2f} us per line)")


async def bench_fake_flood() -> None:
    os.environ["NIGHTSHIFT_CLAUDE_PATH"] = str(ROOT / "tests" / "fakes" / "fake_claude.py")
    with tempfile.TemporaryDirectory() as d:
        host = RecordingHost(d, options=ClaudeAgent.check_options({}))
        agent = ClaudeAgent(host)
        await agent.send("warm up")
        await host.wait_event("turn_end")
        start = time.perf_counter()
        await agent.send("mode:flood")
        await host.wait_event("turn_end", count=2, timeout=300)
        elapsed = time.perf_counter() - start
        deltas = len(host.of("assistant")) - 1
        print(
            f"fake CLI flood: {deltas:,} deltas in {elapsed:.2f} s = {deltas / elapsed:,.0f} events/s "
            "(process, pipe, line split, JSON, translator, host)"
        )
        await agent.stop()
    del os.environ["NIGHTSHIFT_CLAUDE_PATH"]


async def bench_real_cli() -> None:
    real = ROOT / ".cache" / "claude-code" / "node_modules" / ".bin" / "claude"
    if not real.exists():
        print("real CLI: not installed (tests/fakes/install_claude.sh), skipped")
        return
    server = AnthropicServer()
    server.start()
    with tempfile.TemporaryDirectory() as d:
        home = Path(d) / "home"
        home.mkdir()
        os.environ.update(
            NIGHTSHIFT_CLAUDE_PATH=str(real),
            HOME=str(home),
            ANTHROPIC_BASE_URL=server.url,
            ANTHROPIC_API_KEY="dummy",
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        )
        host = RecordingHost(d, options=ClaudeAgent.check_options({}))
        agent = ClaudeAgent(host)
        for n in (1, 2, 3):
            server.queue(Reply.text(f"Answer number {n}."))
            start = time.perf_counter()
            await agent.send(f"question {n}")
            await host.wait_for(lambda n=n: len(host.messages()) >= n, timeout=120)
            first = time.perf_counter() - start
            await host.wait_event("turn_end", count=n, timeout=120)
            total = time.perf_counter() - start
            label = "first turn (CLI start included)" if n == 1 else f"turn {n} (running process)"
            print(f"real CLI {label}: first text after {first * 1000:.0f} ms, turn done after {total * 1000:.0f} ms")
        start = time.perf_counter()
        await agent.stop()
        print(f"real CLI stop (stdin EOF, CLI exits by itself): {(time.perf_counter() - start) * 1000:.0f} ms")
    server.stop()


def main() -> None:
    print(f"claude version: {ClaudeAgent.detect().version}")
    bench_translator()
    asyncio.run(bench_fake_flood())
    asyncio.run(bench_real_cli())


if __name__ == "__main__":
    main()
