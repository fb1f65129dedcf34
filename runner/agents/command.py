"""The `command` agent: any argv, one event per output line, stdin from `send`.

The process runs in a pseudo-terminal where the platform has one (Linux, macOS; pipes on Windows): see
runner/process.py. Its size comes from `create`'s `cols`/`rows` (default 80x24) and follows `resize`.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Mapping
from typing import Any

from runner.agents.base import Agent, AgentError
from runner.process import AgentProcess, SpawnError

DEFAULT_SIZE = (80, 24)
MAX_TERMINAL_SIDE = 10_000
"""Largest cols or rows accepted (the kernel's field is 16 bits; anything near it is a mistake)."""


def check_size(request: Mapping[str, Any], default: tuple[int, int] | None) -> tuple[int, int] | None:
    """(cols, rows) from a request's `cols` and `rows`; `default` when both are absent."""
    cols, rows = request.get("cols"), request.get("rows")
    if cols is None and rows is None and default is not None:
        return default
    for name, value in (("cols", cols), ("rows", rows)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_TERMINAL_SIDE:
            raise AgentError("bad_request", f"'{name}' must be an integer from 1 to {MAX_TERMINAL_SIDE}")
    return cols, rows  # type: ignore[return-value]


def line_part(stream: str, text: str, index: int, last: bool) -> dict[str, Any]:
    """The fields of an `output` event holding one part of a line over the reader's limit (EVENTS.md: `part`,
    and `truncated` on every part but the last)."""
    fields: dict[str, Any] = {"stream": stream, "text": text, "part": index}
    if not last:
        fields["truncated"] = True
    return fields


class CommandAgent(Agent):
    name = "command"
    label = "Command"

    def __init__(self, host: Any) -> None:
        super().__init__(host)
        self._proc: AgentProcess | None = None
        self._interrupted = False

    @classmethod
    def check_options(cls, request: Mapping[str, Any]) -> dict[str, Any]:
        argv = request.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise AgentError("bad_request", "'argv' must be a non-empty list of strings")
        if any("\0" in a for a in argv):
            raise AgentError("bad_request", "'argv' must not contain NUL characters")
        cols, rows = check_size(request, DEFAULT_SIZE)  # type: ignore[misc]
        return {"argv": argv, "cols": cols, "rows": rows}

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.running

    def accepts_input(self) -> bool:
        return self.running

    async def start(self) -> None:
        options = self.host.options
        size = (options.get("cols", DEFAULT_SIZE[0]), options.get("rows", DEFAULT_SIZE[1]))
        try:
            self._proc = await AgentProcess.spawn(
                options["argv"], self.host.cwd, self, backpressure=self.host.backpressure, terminal=size
            )
        except SpawnError as exc:
            self.host.emit("error", message=str(exc), code="spawn_failed")
            self.host.set_status("error", reason="spawn_failed")
            return
        self.host.set_status("running", pid=self._proc.pid)
        self._watch = asyncio.create_task(self._watch_exit(self._proc))

    def on_lines(self, stream: str, lines: list[str]) -> None:
        self.host.emit_lines(stream, lines)

    def on_part(self, stream: str, text: str, index: int, last: bool) -> None:
        self.host.emit("output", **line_part(stream, text, index, last))

    async def _watch_exit(self, proc: AgentProcess) -> None:
        code = await proc.wait()
        if self._interrupted:
            self.host.set_status("interrupted", exit_code=code)
        else:
            self.host.set_status("exited", exit_code=code)

    async def send(self, text: str) -> None:
        if not self.running or self._proc is None:
            raise AgentError("not_running", "the command is not running")
        try:
            await self._proc.write(text.encode("utf-8"))
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise AgentError("not_running", "the command has closed its input") from exc
        except ValueError as exc:
            raise AgentError("bad_request", str(exc)) from exc

    async def resize(self, cols: int, rows: int) -> None:
        """Resize the terminal; the kernel sends the program SIGWINCH."""
        check_size({"cols": cols, "rows": rows}, None)
        if not self.running or self._proc is None:
            raise AgentError("not_running", "the command is not running")
        if self._proc.terminal_fd is None:
            raise AgentError("bad_request", "this command runs without a terminal (pipes on this platform)")
        self._proc.resize(cols, rows)

    async def interrupt(self) -> None:
        if not self.running or self._proc is None:
            raise AgentError("not_running", "the command is not running")
        self._interrupted = True
        self._proc.signal_group(signal.SIGINT)

    async def stop(self) -> None:
        if self._proc is None:
            return
        await self._proc.terminate()
        # _watch_exit records the final status.
        await self._watch
