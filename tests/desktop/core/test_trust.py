"""Trust on first use for wss:// runners: the pin is checked before the token is sent, against real TLS on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from desktop.connection import RunnerConnection
from desktop.core.status import Color, Phase
from desktop.core.trust import CertificateChanged, CertificateRejected, PinStore, TrustOnFirstUse
from desktop.core.view import ViewCore, ViewListener
from runner.runner import Runner
from runner.tls import certificate_file_fingerprint, same_fingerprint
from tests.conftest import TOKEN, missing
from tests.desktop.qt.helpers import until

REPO = Path(__file__).resolve().parents[3]


def make_certificate(folder: Path, name: str) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        missing("the openssl command is not installed (needed to make a test certificate)")
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=120,
    )
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("certs")
    return {name: make_certificate(folder, name) for name in ("genuine", "impostor")}


class RecordingTlsServer:
    """A TLS server that answers nothing and keeps every byte a client sends after the TLS handshake."""

    def __init__(self) -> None:
        self.received = b""
        self.handshakes = 0
        self.closed = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handshakes += 1
        try:
            while chunk := await reader.read(65536):
                self.received += chunk
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()
            self.closed.set()


@pytest.fixture
async def impostor(certificates: dict[str, tuple[Path, Path]]) -> AsyncIterator[tuple[RecordingTlsServer, str]]:
    recorder = RecordingTlsServer()
    server = await asyncio.start_server(
        recorder.handle, "127.0.0.1", 0, ssl=server_context(*certificates["impostor"])
    )
    port = server.sockets[0].getsockname()[1]
    try:
        yield recorder, f"wss://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def tls_runner(data_dir: str, certificates: dict[str, tuple[Path, Path]]) -> AsyncIterator[Runner]:
    r = await Runner.start(data_dir, TOKEN, "127.0.0.1", 0, ssl_context=server_context(*certificates["genuine"]))
    try:
        yield r
    finally:
        await r.shutdown()


def asker(answer: bool) -> tuple[list[tuple[str, str]], Callable[[str, str], bool]]:
    asked: list[tuple[str, str]] = []

    def ask(runner: str, fingerprint: str) -> bool:
        asked.append((runner, fingerprint))
        return answer

    return asked, ask


HEADERS = {"Authorization": f"Bearer {TOKEN}"}


async def test_a_changed_certificate_is_refused_before_any_byte_of_the_token_is_sent(
    tmp_path: Path, impostor: tuple[RecordingTlsServer, str], certificates: dict[str, tuple[Path, Path]]
) -> None:
    recorder, url = impostor
    genuine = certificate_file_fingerprint(str(certificates["genuine"][0]))
    forged = certificate_file_fingerprint(str(certificates["impostor"][0]))
    store = PinStore(tmp_path / "pins.json")
    store.pin(url, genuine)
    asked, ask = asker(True)
    trust = TrustOnFirstUse(store, ask)
    with pytest.raises(CertificateChanged) as info:
        await trust.connect(url, additional_headers=HEADERS, proxy=None, open_timeout=30)
    assert str(info.value).startswith(f"certificate changed: expected {genuine} got {forged}.")
    await asyncio.wait_for(recorder.closed.wait(), 30)
    assert recorder.handshakes == 1  # the TLS handshake happened: the check is on this very connection
    assert recorder.received == b""  # no request at all, so no byte of the token
    assert asked == [] and store.get(url) == genuine  # never asked, the pin unchanged


async def test_a_first_certificate_the_user_declines_gets_nothing_and_is_not_pinned(
    tmp_path: Path, impostor: tuple[RecordingTlsServer, str], certificates: dict[str, tuple[Path, Path]]
) -> None:
    recorder, url = impostor
    store = PinStore(tmp_path / "pins.json")
    asked, ask = asker(False)
    with pytest.raises(CertificateRejected):
        await TrustOnFirstUse(store, ask).connect(url, additional_headers=HEADERS, proxy=None, open_timeout=30)
    await asyncio.wait_for(recorder.closed.wait(), 30)
    assert asked == [(url, certificate_file_fingerprint(str(certificates["impostor"][0])))]
    assert recorder.received == b"" and store.get(url) is None
    assert not (tmp_path / "pins.json").exists()


async def test_a_first_certificate_the_user_trusts_is_pinned_and_used(
    tmp_path: Path, tls_runner: Runner, certificates: dict[str, tuple[Path, Path]]
) -> None:
    store = PinStore(tmp_path / "pins.json")
    answers: list[tuple[str, str]] = []

    async def ask(runner: str, fingerprint: str) -> bool:  # a dialog is asynchronous: awaited, outside timeouts
        answers.append((runner, fingerprint))
        return True

    trust = TrustOnFirstUse(store, ask)
    ws = await trust.connect(tls_runner.url, additional_headers=HEADERS, proxy=None, open_timeout=30)
    await ws.send(json.dumps({"type": "ping", "id": 1}))
    assert json.loads(await ws.recv()) == {"type": "pong", "re": 1}
    await ws.close()
    genuine = certificate_file_fingerprint(str(certificates["genuine"][0]))
    assert answers == [(tls_runner.url, genuine)]
    # Pinned on disk, owner-only; a new store (the next app start) connects without asking.
    assert stat.S_IMODE(os.stat(tmp_path / "pins.json").st_mode) == 0o600
    again = TrustOnFirstUse(PinStore(tmp_path / "pins.json"), ask)
    ws = await again.connect(tls_runner.url, additional_headers=HEADERS, proxy=None, open_timeout=30)
    await ws.close()
    assert len(answers) == 1


class Nothing(ViewListener):
    pass


async def test_the_connection_turns_red_with_the_reason_and_does_not_retry_on_its_own(
    tmp_path: Path, impostor: tuple[RecordingTlsServer, str], certificates: dict[str, tuple[Path, Path]]
) -> None:
    recorder, url = impostor
    store = PinStore(tmp_path / "pins.json")
    genuine = certificate_file_fingerprint(str(certificates["genuine"][0]))
    store.pin(url, genuine)
    core = ViewCore(Nothing())
    conn = RunnerConnection(url, TOKEN, core, opener=TrustOnFirstUse(store, asker(True)[1]).connect)
    conn.start()
    try:
        await until(lambda: core.status.color is Color.RED, 30, "red dot")
        assert core.status.reason is not None and core.status.reason.startswith(
            f"certificate changed: expected {genuine} got "
        )
        assert core.status.next_retry_at is None  # waits for the user
        assert core.status.phase is Phase.UNTRUSTED and core.status.label() == "Certificate not trusted"
        assert "the token was not sent" in core.status.tooltip()
    finally:
        await conn.close()
    assert recorder.handshakes == 1 and recorder.received == b""


def test_pins_survive_a_reload_and_an_unreadable_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "deeper" / "pins.json"
    store = PinStore(path)
    store.pin("wss://a:1", "AA:BB")
    store.pin("ssh://me@b", "CC:DD")
    store.forget("wss://a:1")
    assert PinStore(path).get("ssh://me@b") == "CC:DD" and PinStore(path).get("wss://a:1") is None
    assert [p.name for p in path.parent.iterdir()] == ["pins.json"]  # no temporary file left behind
    path.write_text("{not json")
    with pytest.raises(OSError, match="cannot read the trusted certificates"):
        PinStore(path)


def test_the_runner_prints_the_fingerprint_openssl_computes(
    tmp_path: Path, certificates: dict[str, tuple[Path, Path]]
) -> None:
    cert, key = certificates["genuine"]
    by_openssl = subprocess.run(
        ["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(cert)],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip().split("=", 1)[1]
    out = subprocess.run(
        [sys.executable, "-m", "runner", "--fingerprint", "--tls-cert", str(cert)],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == by_openssl
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner", "--port", "0", "--data-dir", str(tmp_path / "d"),
         "--tls-cert", str(cert), "--tls-key", str(key)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "NIGHTSHIFT_TOKEN": TOKEN},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("listening on wss://127.0.0.1:")
        line = proc.stdout.readline().strip()
        assert line == f"TLS certificate SHA-256 fingerprint: {by_openssl}"
        assert same_fingerprint(line.rsplit(" ", 1)[1].lower().replace(":", ""), by_openssl)
    finally:
        proc.terminate()
        _, errors = proc.communicate(timeout=60)
    assert proc.returncode == 0, errors
    missing_cert = subprocess.run([sys.executable, "-m", "runner", "--fingerprint"], capture_output=True, text=True,
                                  timeout=60, cwd=REPO)
    assert missing_cert.returncode == 2 and "--tls-cert" in missing_cert.stderr


def test_a_self_signed_runner_keeps_its_certificate_across_restarts(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        missing("the openssl command is not installed (needed to make the certificate)")
    data = tmp_path / "d"
    printed = []
    for _ in range(2):
        proc = subprocess.Popen(
            [sys.executable, "-m", "runner", "--port", "0", "--data-dir", str(data), "--tls-self-signed"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
            env={**os.environ, "NIGHTSHIFT_TOKEN": TOKEN},
        )
        assert proc.stdout is not None
        try:
            assert proc.stdout.readline().startswith("listening on wss://127.0.0.1:")
            printed.append(proc.stdout.readline().strip().rsplit(" ", 1)[1])
        finally:
            proc.terminate()
            _, errors = proc.communicate(timeout=60)
        assert proc.returncode == 0, errors
    assert printed[0] == printed[1] == certificate_file_fingerprint(str(data / "tls" / "cert.pem"))
    assert stat.S_IMODE(os.stat(data / "tls" / "key.pem").st_mode) == 0o600
    assert sorted(p.name for p in (data / "tls").iterdir()) == ["cert.pem", "key.pem"]
    again = subprocess.run([sys.executable, "-m", "runner", "--fingerprint", "--data-dir", str(data)],
                           capture_output=True, text=True, timeout=60, cwd=REPO)
    assert again.stdout.strip() == printed[0], again.stderr
