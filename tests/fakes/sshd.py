"""A real OpenSSH server on loopback for the ssh:// runner tests and benchmark: nothing of the system's changes
(only /run/sshd is made when run as root and missing, as the openssh-server service does at boot)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def sshd_path() -> str | None:
    return shutil.which("sshd") or next(
        (p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if os.path.exists(p)), None
    )


def sshd_missing() -> str | None:
    """Why no sshd can be started here, or None."""
    if sshd_path() is None:
        return "needs sshd (Debian package openssh-server)"
    for tool in ("ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            return f"needs {tool} (Debian package openssh-client)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sshd:
    """sshd on a free loopback port, run as the current user with its own config, host key and user keys (in
    `folder`); `options()` are ssh client options that use them (and not ~/.ssh/config)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.user = pwd.getpwuid(os.getuid()).pw_name

    def start(self) -> None:
        sshd = sshd_path()
        assert sshd is not None, sshd_missing()
        f = self.folder
        for name in ("host_key", "user_key", "other_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(f / name)], check=True,
                           timeout=60)
        (f / "authorized_keys").write_text((f / "user_key.pub").read_text())
        (f / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {f / 'host_key'}\n"
            f"AuthorizedKeysFile {f / 'authorized_keys'}\nPidFile {f / 'sshd.pid'}\n"
            "UsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nAllowTcpForwarding yes\nLogLevel VERBOSE\n"
        )
        (f / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {(f / 'host_key.pub').read_text()}")
        for key in ("user_key", "other_key"):
            # -F: the user's own ~/.ssh/config stays out of the test (in real use it applies).
            (f / f"ssh_config_{key}").write_text(
                f"Host *\n  IdentityFile {f / key}\n  IdentitiesOnly yes\n  IdentityAgent none\n"
                f"  UserKnownHostsFile {f / 'known_hosts'}\n  StrictHostKeyChecking yes\n"
            )
        # A user who shares one connection per host (ControlMaster), a common ~/.ssh/config.
        (f / "ssh_config_mux").write_text(
            (f / "ssh_config_user_key").read_text()
            + f"  ControlMaster auto\n  ControlPath {f}/mux-%C\n  ControlPersist 120\n"
        )
        if os.geteuid() == 0:
            # sshd run by root wants its privilege separation folder (the openssh-server service makes it at boot).
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.log = open(f / "sshd.log", "wb")  # closed in stop()
        self.proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(f / "sshd_config")], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("sshd did not start: " + (f / "sshd.log").read_text()) from None
                time.sleep(0.05)

    def options(self, config: str = "user_key") -> list[str]:
        return ["-F", str(self.folder / f"ssh_config_{config}")]

    @property
    def url(self) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}"

    def session_processes(self) -> list[int]:
        """sshd's per-connection processes (children of the listening daemon)."""
        assert self.proc is not None
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def stop(self) -> None:
        if self.proc is not None:
            for pid in self.session_processes():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.terminate()
            self.proc.wait(30)
            self.log.close()


def runner_command(data_dir: Path) -> str:
    """This checkout's runner, run by the remote login shell, with a data folder of the test's own."""
    return (f"cd {shlex.quote(str(REPO))} && PYTHONPATH={shlex.quote(str(REPO))} {shlex.quote(sys.executable)}"
            f" -m runner --data-dir {shlex.quote(str(data_dir))}")
