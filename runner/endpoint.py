"""Where a running runner can be reached, for the desktop's SSH runners (issue 13).

A headless runner writes `DATA_DIR/endpoint.json` (its pid, address, port, scheme, certificate fingerprint and where
its token is kept; never the token itself) once it listens, and removes it when it stops. `nightshift-runner
--ssh-bootstrap`, which the desktop runs over SSH, reads it; if no runner answers there, it starts one detached (a
new session, no terminal, output to DATA_DIR/runner.log, so it outlives the SSH connection), waits until it listens,
and prints one JSON line with the port and the token. The token thus travels on the SSH channel's stdout, never on a
command line.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from runner.atomic_file import write_atomically

ENDPOINT_FILE = "endpoint.json"
LOG_FILE = "runner.log"
BOOTSTRAP_MARK = "nightshift_endpoint"
"""The key that marks the bootstrap's JSON line among whatever a login shell may print before it."""

START_TIMEOUT = 60.0


class BootstrapError(Exception):
    """No runner could be found or started; the message says why (with the new runner's log when it failed)."""


def write_endpoint(
    data_dir: str, host: str, port: int, scheme: str, token_file: str | None, fingerprint: str | None
) -> None:
    record = {
        "pid": os.getpid(),
        "host": host,
        "port": port,
        "scheme": scheme,
        "token_file": os.path.abspath(token_file) if token_file else None,
        "tls_fingerprint": fingerprint,
    }
    path = os.path.join(data_dir, ENDPOINT_FILE)
    write_atomically(path, json.dumps(record).encode(), sync_folder=False)  # a reader never sees half a record


def remove_endpoint(data_dir: str) -> None:
    """Remove the record if it is this process's (a runner that failed to start must not remove a live one's)."""
    path = os.path.join(data_dir, ENDPOINT_FILE)
    if (read_endpoint(data_dir) or {}).get("pid") == os.getpid():
        with contextlib.suppress(OSError):
            os.unlink(path)


def read_endpoint(data_dir: str) -> dict[str, Any] | None:
    try:
        with open(os.path.join(data_dir, ENDPOINT_FILE), encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int) or not isinstance(
        record.get("port"), int
    ):
        return None
    return record


def _loopback_for(host: str) -> str:
    """The address the SSH forward targets: a wildcard bind is reached on loopback."""
    if host in ("", "0.0.0.0", "localhost"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process took the pid over: not our runner
        return False
    # A runner that died but was not reaped yet (its parent is an init that is slow to, in a container say) is a
    # zombie: gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): the signal test is all there is


def _answers(record: dict[str, Any]) -> bool:
    try:
        with socket.create_connection((_loopback_for(record.get("host", "")), record["port"]), timeout=5):
            return True
    except OSError:
        return False


def _alive(record: dict[str, Any], timeout: float) -> bool:
    """The recorded runner is running and accepts connections. A runner whose process lives on without answering
    is shutting down (it removes the record last): wait for it to end, since two runners must never share a
    journal, then say it is gone."""
    deadline = time.monotonic() + timeout
    while _process_exists(record["pid"]):
        if _answers(record):
            return True
        if time.monotonic() > deadline:
            raise BootstrapError(
                f"the runner (pid {record['pid']}) neither answers on port {record['port']} nor stops; "
                f"stop it, then connect again"
            )
        time.sleep(0.1)
    return False


@contextlib.contextmanager
def _bootstrap_lock(data_dir: str) -> Iterator[None]:
    """One bootstrap at a time per data folder: two desktops connecting at once must not start two runners."""
    if os.name != "posix":
        yield
        return
    import fcntl

    fd = os.open(os.path.join(data_dir, "bootstrap.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _runner_argv() -> list[str]:
    # A frozen build is the runner program itself; otherwise the same interpreter runs the same package.
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "runner"]


def _log_tail(path: str, lines: int = 20) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:]).strip()
    except OSError:
        return ""


def _start_detached(data_dir: str, runner_args: list[str]) -> subprocess.Popen[bytes]:
    log_path = os.path.join(data_dir, LOG_FILE)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [*_runner_argv(), *runner_args, "--port", "0", "--data-dir", data_dir],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            # Its own session, no controlling terminal, none of the SSH channel's pipes: sshd closing the channel
            # (and hanging up its process group) leaves it running.
            start_new_session=True,
            close_fds=True,
        )


def find_or_start(data_dir: str, runner_args: list[str], timeout: float = START_TIMEOUT) -> dict[str, Any]:
    """The endpoint of the runner serving `data_dir`, started first if none answers. Returns the record plus
    `token` (None when the runner took its token from $NIGHTSHIFT_TOKEN) and `started`."""
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    with _bootstrap_lock(data_dir):
        record = read_endpoint(data_dir)
        started = False
        if record is None or not _alive(record, timeout):
            proc = _start_detached(data_dir, runner_args)
            deadline = time.monotonic() + timeout
            while True:
                record = read_endpoint(data_dir)
                if record is not None and record["pid"] == proc.pid:
                    break
                code = proc.poll()
                if code is not None:
                    raise BootstrapError(
                        f"the runner exited at start (code {code}); its log ({os.path.join(data_dir, LOG_FILE)}):\n"
                        + _log_tail(os.path.join(data_dir, LOG_FILE))
                    )
                if time.monotonic() > deadline:
                    raise BootstrapError(f"the runner did not start listening within {timeout:.0f} s")
                time.sleep(0.05)
            started = True
    token = None
    token_file = record.get("token_file")
    if isinstance(token_file, str):
        try:
            with open(token_file, encoding="utf-8") as f:
                token = f.read().strip() or None
        except OSError as exc:
            raise BootstrapError(f"cannot read the runner's token file {token_file}: {exc}") from None
    return {
        **record,
        "host": _loopback_for(str(record.get("host", ""))),
        "token": token,
        "started": started,
    }


def bootstrap_main(data_dir: str, runner_args: list[str]) -> int:
    """`nightshift-runner --ssh-bootstrap`: print the endpoint line (with the token) for the desktop, on stdout."""
    try:
        found = find_or_start(data_dir, runner_args)
    except (BootstrapError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({BOOTSTRAP_MARK: 1, **found}), flush=True)
    return 0
