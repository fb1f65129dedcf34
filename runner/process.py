"""AgentProcess: one agent OS process, its process group, and its output lines.

Each agent runs as the leader of a new session (POSIX) or a new process group (Windows), so interrupt and stop reach
every process it spawned (shells, language servers, MCP servers), and the whole group is reaped afterwards.
Output is read in chunks and split into lines here rather than with StreamReader.readline(), which stops at its
64 KiB limit: each read is decoded once and split in bulk, and its lines go to the handler as one list, so the
cost per line is a few list operations rather than a call chain.

With `terminal=(cols, rows)` (POSIX only) the process runs in a pseudo-terminal instead of on pipes: stdin, stdout
and stderr are the pty's slave side, which is also its controlling terminal, so programs see a terminal (colours,
progress bars, line-buffered prompts) and get SIGWINCH on `resize`. Its output is one stream ("stdout"), as in a
terminal, and the text is kept as the program wrote it (escape codes included; output post-processing is off, so
line ends are the program's own, as on pipes). An unfinished line (a prompt, a progress bar redrawn with CR) is
handed out as a part once the process has been quiet for PARTIAL_LINE_DELAY, so views see it without waiting for
its newline.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

try:
    import fcntl
    import termios
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    termios = None  # type: ignore[assignment]

# Lines up to this size arrive whole; longer ones are cut into parts of at most this size, at UTF-8 character
# boundaries. Big enough for base64 images and huge tool outputs (the issue asks for at least 8 MiB).
MAX_LINE_BYTES = 16 * 1024 * 1024
READ_CHUNK = 256 * 1024
STOP_GRACE_SECONDS = 5.0

IS_WINDOWS = sys.platform == "win32"

TERMINALS_SUPPORTED = not IS_WINDOWS and hasattr(os, "openpty")
"""Whether `spawn(terminal=...)` runs the process in a pseudo-terminal (Linux, macOS); elsewhere it uses pipes."""
PARTIAL_LINE_DELAY = 0.1
"""Seconds a terminal's unfinished line waits for more output before it is handed out as a part."""
MAX_CANON = 4095
"""Longest line a pty in canonical (cooked) mode accepts; the line discipline silently drops the rest."""
TERMINAL_ENV = {"TERM": "xterm-256color", "COLORTERM": "truecolor"}
"""What the views' interpreter (desktop/core/terminal.py) understands: 16, 256 and 24-bit colours."""


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


def _set_window_size(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _open_terminal(cols: int, rows: int) -> tuple[int, int]:
    """A new pty (master, slave) of that size, without echo: the session journals what a view sends as a `user`
    event already, and an echo would print every sent line a second time. Programs may turn echo on again (a
    shell's line editor does, and prints what it echoes itself)."""
    master, slave = os.openpty()
    try:
        _set_window_size(master, cols, rows)
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~(termios.ECHO | termios.ECHONL)
        # Output as the program wrote it: no LF -> CRLF translation, so the journal holds the program's own line
        # ends, exactly as on pipes (and the reader has no CRs to strip from every line).
        attrs[1] &= ~termios.OPOST
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
    except BaseException:
        os.close(master)
        os.close(slave)
        raise
    return master, slave


def _take_controlling_terminal() -> None:
    """Runs in the child after setsid(): make stdin (the pty's slave) the session's controlling terminal, so
    /dev/tty works, the child's group is the terminal's foreground group and gets SIGWINCH on resize. Only a
    prebound ioctl: nothing in here may import or take locks (it runs between fork and exec)."""
    _ioctl(0, _TIOCSCTTY, 0)


if TERMINALS_SUPPORTED:
    _ioctl, _TIOCSCTTY = fcntl.ioctl, termios.TIOCSCTTY


class _TerminalReader:
    """Reads the master side of a pty the way AgentProcess._read reads a StreamReader: `read(n)` gives bytes, or
    b"" at the end (Linux reports the end, all slave fds closed, as EIO). StreamReader is not used because it
    raises that EIO before handing out the bytes it has buffered."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        os.set_blocking(fd, False)
        self._loop = asyncio.get_running_loop()

    async def read(self, n: int, within: float | None = None) -> bytes | None:
        """Up to n bytes; None if `within` seconds pass with nothing to read."""
        fd, loop = self._fd, self._loop
        while True:
            try:
                return os.read(fd, n)
            except BlockingIOError:
                pass
            except OSError as exc:
                if exc.errno == errno.EIO:
                    return b""
                raise
            ready = loop.create_future()
            loop.add_reader(fd, _settle, ready, True)
            timer = loop.call_later(within, _settle, ready, False) if within is not None else None
            try:
                if not await ready:
                    return None
            finally:
                loop.remove_reader(fd)
                if timer is not None:
                    timer.cancel()


def _settle(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)


def _complete_prefix(data: bytes | bytearray) -> int:
    """The length of data without a UTF-8 character cut off at its end (0 to 3 bytes shorter)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)
        if byte >= 0xC0:  # the lead byte: is its character complete?
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if back >= need else len(data) - back
    return len(data)


class AgentProcess:
    """A running agent process: write to its stdin, signal its group, and wait for it and its group to end."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        output: OutputHandler,
        backpressure: Callable[[], Awaitable[None]] | None,
        terminal_fd: int | None = None,
    ) -> None:
        self._proc = proc
        self._output = output
        self._backpressure = backpressure
        self.pid = proc.pid
        self.pgid = proc.pid  # leader of its own session/group
        self.terminal_fd = terminal_fd
        """The pty's master side if the process runs in a terminal (closed once its output has all been read)."""
        self._terminal_closed = False
        if terminal_fd is not None:
            self._readers = [asyncio.create_task(self._read(_TerminalReader(terminal_fd), "stdout"))]
        else:
            _widen_pipes(proc)
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
        terminal: tuple[int, int] | None = None,
    ) -> AgentProcess:
        """Start argv. `terminal=(cols, rows)`: in a pseudo-terminal of that size where TERMINALS_SUPPORTED
        (see the module doc), on pipes elsewhere."""
        if not argv:
            raise SpawnError("empty command")
        if not os.path.isdir(cwd):
            raise SpawnError(f"working directory does not exist: {cwd}")
        kwargs: dict = {}
        if IS_WINDOWS:
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            kwargs["start_new_session"] = True
        stdin_to: int = asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL
        stdout_to: int = asyncio.subprocess.PIPE
        stderr_to: int = asyncio.subprocess.PIPE
        master = slave = None
        if terminal is not None and TERMINALS_SUPPORTED:
            try:
                master, slave = _open_terminal(*terminal)
            except OSError as exc:
                raise SpawnError(f"cannot open a terminal for {argv[0]}: {exc.strerror or exc}") from exc
            stdin_to = stdout_to = stderr_to = slave
            kwargs["preexec_fn"] = _take_controlling_terminal
            env = {**(os.environ if env is None else env), **TERMINAL_ENV}
        started = False
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=stdin_to,
                stdout=stdout_to,
                stderr=stderr_to,
                **kwargs,
            )
            started = True
        except FileNotFoundError as exc:
            raise SpawnError(f"executable not found: {argv[0]}") from exc
        except PermissionError as exc:
            raise SpawnError(f"permission denied: {argv[0]}") from exc
        except OSError as exc:
            raise SpawnError(f"cannot start {argv[0]}: {exc.strerror or exc}") from exc
        except subprocess.SubprocessError as exc:  # the controlling terminal could not be taken in the child
            raise SpawnError(f"cannot start {argv[0]} in a terminal: {exc}") from exc
        finally:
            if slave is not None:
                # Only the child holds the slave side now: when it and its group are gone, reads end (EIO).
                os.close(slave)
            if master is not None and not started:
                os.close(master)
        return cls(proc, output, backpressure, master)

    # --- output ---------------------------------------------------------------------------------------------------

    async def _read(self, stream: asyncio.StreamReader | _TerminalReader | None, name: str) -> None:
        if stream is None:
            return
        output = self._output
        terminal = stream if isinstance(stream, _TerminalReader) else None
        buf = bytearray()  # the unfinished line (never holds a newline between reads)
        part = 0  # parts of the current line handed out already
        while True:
            if terminal is not None and buf:
                chunk = await terminal.read(READ_CHUNK, PARTIAL_LINE_DELAY)
                if chunk is None:
                    # Quiet with an unfinished line: a prompt or a progress bar. Hand out what is whole of it, but
                    # not a last CR, which may be the start of a CRLF line end.
                    cut = _complete_prefix(buf)
                    if cut and buf[cut - 1] == 0x0D:
                        cut -= 1
                    if cut:
                        output.on_part(name, _decode(buf[:cut], line_end=False), part, False)
                        part += 1
                        del buf[:cut]
                    continue
            else:
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
        """Write to stdin; raises BrokenPipeError/ConnectionResetError when the process has closed it, and
        ValueError for a line a terminal in cooked mode would cut short (nothing is written then)."""
        if self.terminal_fd is not None:
            await self._write_terminal(self.terminal_fd, data)
            return
        stdin = self._proc.stdin
        if stdin is None or stdin.is_closing():
            raise BrokenPipeError("stdin is closed")
        stdin.write(data)
        await stdin.drain()

    async def _write_terminal(self, fd: int, data: bytes) -> None:
        if self._terminal_closed:
            raise BrokenPipeError("the terminal is closed")
        with contextlib.suppress(OSError):  # termios can fail only if the terminal is gone: the write says so
            if termios.tcgetattr(fd)[3] & termios.ICANON:
                longest = max(map(len, data.split(b"\n")))
                if longest > MAX_CANON:
                    raise ValueError(
                        f"a line of {longest} bytes is longer than the {MAX_CANON} a terminal in line mode takes "
                        "(the program reads whole lines); send it in shorter lines")
        loop = asyncio.get_running_loop()
        view = memoryview(data)
        while view:
            if self._terminal_closed:  # closed while waiting for room (its fd number may be reused already)
                raise BrokenPipeError("the terminal is closed")
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                # The terminal's input queue is full until the program reads: wait for room, like drain().
                # When the program ends, the hang-up wakes this too, and the next write fails.
                room = loop.create_future()
                loop.add_writer(fd, _settle, room, True)
                try:
                    await room
                finally:
                    loop.remove_writer(fd)
                continue
            except OSError as exc:
                raise BrokenPipeError(f"the terminal is closed: {exc.strerror}") from exc
            view = view[written:]

    def resize(self, cols: int, rows: int) -> bool:
        """Set the terminal's size; the kernel sends SIGWINCH to its foreground group. False without a terminal."""
        if self.terminal_fd is None or self._terminal_closed:
            return False
        try:
            _set_window_size(self.terminal_fd, cols, rows)
        except OSError:
            return False
        return True

    def close_stdin(self) -> None:
        if self.terminal_fd is not None:
            # A terminal has no end of input to close: VEOF (Ctrl+D) at the start of a line is what a program
            # reading the terminal sees as its end of input.
            if not self._terminal_closed:
                with contextlib.suppress(OSError):
                    os.write(self.terminal_fd, b"\x04")
            return
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
        if self.terminal_fd is not None and not self._terminal_closed:
            # Ctrl+C in a terminal reaches its foreground group: a shell in the terminal may have moved its
            # current job to a group of its own.
            with contextlib.suppress(OSError):
                foreground = os.tcgetpgrp(self.terminal_fd)
                if foreground not in (self.pgid, 0):
                    os.killpg(foreground, sig)

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
        if self.terminal_fd is not None and not self._terminal_closed:
            self._terminal_closed = True
            os.close(self.terminal_fd)
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
