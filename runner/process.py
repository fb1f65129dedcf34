"""AgentProcess: one agent OS process, its process group, and its output lines.

Each agent runs as the leader of a new session (POSIX) or a new process group (Windows), so interrupt and stop reach
every process it spawned (shells, language servers, MCP servers), and the whole group is reaped afterwards.
Output is read in chunks and split into lines here rather than with StreamReader.readline(), which stops at its
64 KiB limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

# Lines up to this size arrive whole; longer ones are cut into parts of this size, each but the last flagged
# truncated. Big enough for base64 images and huge tool outputs (the issue asks for at least 8 MiB).
MAX_LINE_BYTES = 16 * 1024 * 1024
READ_CHUNK = 256 * 1024
STOP_GRACE_SECONDS = 5.0

IS_WINDOWS = sys.platform == "win32"

LineHandler = Callable[[str, str, bool], None]
"""Called as handler(stream, text, truncated) for every line; stream is "stdout" or "stderr"."""


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
        on_line: LineHandler,
        backpressure: Callable[[], Awaitable[None]] | None,
    ) -> None:
        self._proc = proc
        self._on_line = on_line
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
        on_line: LineHandler,
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
        return cls(proc, on_line, backpressure)

    # --- output ---------------------------------------------------------------------------------------------------

    async def _read(self, stream: asyncio.StreamReader | None, name: str) -> None:
        if stream is None:
            return
        buf = bytearray()
        while True:
            chunk = await stream.read(READ_CHUNK)
            if not chunk:
                break
            buf += chunk
            start = 0
            while True:
                nl = buf.find(b"\n", start)
                if nl < 0:
                    break
                self._emit(name, bytes(buf[start:nl]), False)
                start = nl + 1
            del buf[:start]
            while len(buf) >= MAX_LINE_BYTES:
                self._emit(name, bytes(buf[:MAX_LINE_BYTES]), True)
                del buf[:MAX_LINE_BYTES]
            if self._backpressure is not None:
                await self._backpressure()
        if buf:
            self._emit(name, bytes(buf), False)

    def _emit(self, stream: str, raw: bytes, truncated: bool) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        self._on_line(stream, raw.decode("utf-8", errors="replace"), truncated)

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
