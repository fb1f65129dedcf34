"""AgentProcess: one agent OS process, its process group, and its output lines.

Each agent runs as the leader of a new session (POSIX) or a new process group (Windows), so interrupt and stop reach
every process it spawned (shells, language servers, MCP servers), and the whole group is reaped afterwards.
Output is read in chunks and split into lines here rather than with StreamReader.readline(), which stops at its
64 KiB limit: each read is decoded once and split in bulk, and its lines go to the handler as one list, so the
cost per line is a few list operations rather than a call chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

# Lines up to this size arrive whole; longer ones are cut into parts of at most this size, at UTF-8 character
# boundaries. Big enough for base64 images and huge tool outputs (the issue asks for at least 8 MiB).
MAX_LINE_BYTES = 16 * 1024 * 1024
READ_CHUNK = 256 * 1024
STOP_GRACE_SECONDS = 5.0

IS_WINDOWS = sys.platform == "win32"


class OutputHandler(Protocol):
    """Receives a process's output; `stream` is "stdout" or "stderr"."""

    def on_lines(self, stream: str, lines: list[str]) -> None:
        """Complete lines (without their line ends), in order: every line of one read at once."""

    def on_part(self, stream: str, text: str, index: int, last: bool) -> None:
        """One part of a line longer than MAX_LINE_BYTES. Parts come in order, index 0, 1, ...; the line's
        text is their concatenation, and `last` marks its final part. Nothing else of `stream` comes between."""


def char_boundary(data: bytes | bytearray, at: int) -> int:
    """The largest cut position <= at (< len(data)) that does not split a UTF-8 character of `data`; `at` itself
    where the bytes there are not UTF-8 (never more than 3 bytes are given back)."""
    cut = at
    while cut > at - 3 and cut > 0 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut if (data[cut] & 0xC0) != 0x80 else at


class SpawnError(Exception):
    """The agent's executable could not be started (missing, not executable, bad cwd)."""


def _become_subreaper() -> None:
    """On Linux, make orphaned grandchildren of our agents our children so we can reap them (no zombies)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_CHILD_SUBREAPER = 36
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except OSError:
        pass


_become_subreaper()


PIPE_BYTES = 1024 * 1024


def _widen_pipes(proc: asyncio.subprocess.Process) -> None:
    """Linux: a 1 MiB pipe buffer instead of 64 KiB for the agent's output, so a fast agent fills it less often
    and each read takes more lines at once (fewer wake-ups per line). Best effort: the default still works."""
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    transport = getattr(proc, "_transport", None)
    if setpipe is None or transport is None:
        return
    for fd in (1, 2):
        pipe_transport = transport.get_pipe_transport(fd)
        pipe = pipe_transport.get_extra_info("pipe") if pipe_transport is not None else None
        if pipe is not None:
            # ValueError: the pipe is closed already (a process that exited at once).
            with contextlib.suppress(OSError, ValueError):
                fcntl.fcntl(pipe.fileno(), setpipe, PIPE_BYTES)


def _decode(raw: bytes | bytearray, line_end: bool = True) -> str:
    """Bytes of whole lines (or of a part of one) as text, without the CR of CRLF line ends."""
    text = raw.decode("utf-8", errors="replace")
    # Decoding many lines at once equals decoding each: a newline is never part of a UTF-8 sequence.
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if line_end and text.endswith("\r"):
            text = text[:-1]
    return text


def group_alive(pgid: int) -> bool:
    """True while any process of the group exists (zombies of ours are reaped first)."""
    if IS_WINDOWS:
        return False
    _reap_group(pgid)
    if sys.platform.startswith("linux"):
        # /proc tells zombies apart from live processes; killpg(pgid, 0) does not.
        return bool(live_group_members(pgid))
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def proc_stat(pid: int | str) -> list[bytes] | None:
    """Linux: the fields of /proc/PID/stat after the command name (state first), or None if there is no such
    process. The command name is in parentheses and may contain spaces, so the split starts after it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2 :].split()


def live_group_members(pgid: int) -> list[int]:
    """PIDs of non-zombie processes whose process group is pgid (Linux /proc)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = proc_stat(entry)
        if fields is not None and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            members.append(int(entry))
    return members


def pid_alive(pid: int) -> bool:
    """True if the process exists and is not a zombie (Linux /proc)."""
    fields = proc_stat(pid)
    return fields is not None and fields[0] not in (b"Z", b"X")


def _reap_group(pgid: int) -> None:
    """Collect exit statuses of group members that became our children (subreaper), leaving no zombies."""
    while True:
        try:
            pid, _ = os.waitpid(-pgid, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class AgentProcess:
    """A running agent process: write to its stdin, signal its group, and wait for it and its group to end."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        output: OutputHandler,
        backpressure: Callable[[], Awaitable[None]] | None,
    ) -> None:
        self._proc = proc
        self._output = output
        _widen_pipes(proc)
        self._backpressure = backpressure
        self.pid = proc.pid
        self.pgid = proc.pid  # leader of its own session/group
        self._readers = [
            asyncio.create_task(self._read(proc.stdout, "stdout")),
            asyncio.create_task(self._read(proc.stderr, "stderr")),
        ]
        self._done = asyncio.create_task(self._wait_all())
        self._stopping = False

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        cwd: str,
        output: OutputHandler,
        *,
        env: Mapping[str, str] | None = None,
        backpressure: Callable[[], Awaitable[None]] | None = None,
        stdin: bool = True,
    ) -> AgentProcess:
        if not argv:
            raise SpawnError("empty command")
        if not os.path.isdir(cwd):
            raise SpawnError(f"working directory does not exist: {cwd}")
        kwargs: dict = {}
        if IS_WINDOWS:
            import subprocess

            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            kwargs["start_new_session"] = True
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                **kwargs,
            )
        except FileNotFoundError as exc:
            raise SpawnError(f"executable not found: {argv[0]}") from exc
        except PermissionError as exc:
            raise SpawnError(f"permission denied: {argv[0]}") from exc
        except OSError as exc:
            raise SpawnError(f"cannot start {argv[0]}: {exc.strerror or exc}") from exc
        return cls(proc, output, backpressure)

    # --- output ---------------------------------------------------------------------------------------------------

    async def _read(self, stream: asyncio.StreamReader | None, name: str) -> None:
        if stream is None:
            return
        output = self._output
        buf = bytearray()  # the unfinished line (never holds a newline between reads)
        part = 0  # parts of the current line handed out already
        while True:
            chunk = await stream.read(READ_CHUNK)
            if not chunk:
                break
            scanned = len(buf)
            buf += chunk
            nl = buf.find(b"\n", scanned)
            # Only the first line can reach the limit: the others fit in one read, which is smaller.
            while (nl < 0 and len(buf) > MAX_LINE_BYTES) or nl > MAX_LINE_BYTES:
                cut = char_boundary(buf, MAX_LINE_BYTES)
                output.on_part(name, _decode(buf[:cut], line_end=False), part, False)
                part += 1
                del buf[:cut]
                nl = nl - cut if nl >= 0 else -1
            if nl >= 0:
                end = buf.rfind(b"\n")
                lines = _decode(buf[:end]).split("\n")
                del buf[: end + 1]
                if part:
                    output.on_part(name, lines.pop(0), part, True)
                    part = 0
                if lines:
                    output.on_lines(name, lines)
            if self._backpressure is not None:
                await self._backpressure()
        if part:
            output.on_part(name, _decode(buf), part, True)
        elif buf:
            output.on_lines(name, [_decode(buf)])

    # --- input and signals -----------------------------------------------------------------------------------------

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    @property
    def running(self) -> bool:
        return self._proc.returncode is None

    async def write(self, data: bytes) -> None:
        """Write to stdin; raises BrokenPipeError/ConnectionResetError when the process has closed it."""
        stdin = self._proc.stdin
        if stdin is None or stdin.is_closing():
            raise BrokenPipeError("stdin is closed")
        stdin.write(data)
        await stdin.drain()

    def close_stdin(self) -> None:
        stdin = self._proc.stdin
        if stdin is not None and not stdin.is_closing():
            with contextlib.suppress(OSError, RuntimeError):
                stdin.close()

    def signal_group(self, sig: int) -> None:
        """Send a signal to the whole process group (Windows: the process tree's console group)."""
        if IS_WINDOWS:
            if sig == signal.SIGINT:
                sig = signal.CTRL_BREAK_EVENT  # type: ignore[attr-defined]
            with contextlib.suppress(ProcessLookupError, OSError):
                self._proc.send_signal(sig)
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, sig)

    # --- ending ----------------------------------------------------------------------------------------------------

    async def _leader_exit(self) -> int:
        """Wait for the leader process itself to exit.

        asyncio's Process.wait() also waits for the pipes to close, which a grandchild holding stdout would put off
        forever, so watch the process instead: a pidfd where the OS has one, else a slow poll.
        """
        proc = self._proc
        if proc.returncode is None and hasattr(os, "pidfd_open"):
            loop = asyncio.get_running_loop()
            try:
                fd = os.pidfd_open(proc.pid)
            except OSError:
                fd = -1
            if fd >= 0:
                exited = loop.create_future()
                loop.add_reader(fd, lambda: exited.done() or exited.set_result(None))
                try:
                    await exited
                finally:
                    loop.remove_reader(fd)
                    os.close(fd)
        while proc.returncode is None:  # the child watcher reaps it a moment after the pidfd fires
            await asyncio.sleep(0.005 if hasattr(os, "pidfd_open") else 0.1)
        return proc.returncode

    async def _wait_all(self) -> int:
        code = await self._leader_exit()
        # The leader is gone. Whatever is left of its group (daemonized grandchildren) goes with it, so no agent
        # leaves orphans behind. Pipes held open by those grandchildren close when they die.
        await self._end_group(grace=0.5 if not self._stopping else STOP_GRACE_SECONDS)
        await asyncio.gather(*self._readers, return_exceptions=True)
        return code

    async def _end_group(self, grace: float) -> None:
        if IS_WINDOWS:
            return
        if not group_alive(self.pgid):
            return
        os_kill = os.killpg
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os_kill(self.pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while group_alive(self.pgid) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        while group_alive(self.pgid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os_kill(self.pgid, signal.SIGKILL)
            await asyncio.sleep(0.02)

    async def wait(self) -> int:
        """Wait until the process has exited, its group is gone and all its output has been delivered."""
        return await asyncio.shield(self._done)

    async def terminate(self, grace: float = STOP_GRACE_SECONDS, eof_wait: float = 0.2) -> int:
        """Graceful stop: close stdin, wait up to `eof_wait` s for the process to exit on its own, SIGTERM the group,
        SIGKILL it after `grace` seconds; reap everything."""
        self._stopping = True
        self.close_stdin()
        if self.running and eof_wait > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._leader_exit()), timeout=eof_wait)
        if self.running:
            self.signal_group(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self._leader_exit()), timeout=grace)
            except TimeoutError:
                self.signal_group(signal.SIGKILL)
                if IS_WINDOWS:
                    with contextlib.suppress(ProcessLookupError):
                        self._proc.kill()
        return await self.wait()
