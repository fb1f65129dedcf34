"""The half-open proxy itself: it forwards, then stops forwarding without closing anything."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from tests.fakes.blackhole_proxy import BlackholeProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def roundtrip(sock: socket.socket, payload: bytes) -> bytes:
    sock.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def test_frozen_connections_stay_open_and_silent_while_new_ones_work(echo_port: int) -> None:
    with BlackholeProxy("127.0.0.1", echo_port) as proxy:
        old = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
        assert roundtrip(old, b"hello") == b"hello"
        assert proxy.freeze() == 1
        old.settimeout(0.5)
        old.sendall(b"anyone there?")  # writes still succeed, as on a half-open socket
        with pytest.raises(TimeoutError):
            old.recv(100)  # neither data nor EOF: the peer is simply gone
        new = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
        assert roundtrip(new, b"after the wake") == b"after the wake"
        assert proxy.live_connections() == 1
        assert proxy.open_connections() == 2
        old.close()
        new.close()


def test_while_down_new_connections_are_accepted_and_black_holed(echo_port: int) -> None:
    with BlackholeProxy("127.0.0.1", echo_port) as proxy:
        proxy.set_down(True)
        sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
        sock.settimeout(0.5)
        sock.sendall(b"ping")
        with pytest.raises(TimeoutError):
            sock.recv(100)
        proxy.set_down(False)
        sock2 = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
        assert roundtrip(sock2, b"back") == b"back"
        sock.close()
        sock2.close()


def test_a_close_passes_through_while_not_frozen(echo_port: int) -> None:
    with BlackholeProxy("127.0.0.1", echo_port) as proxy:
        sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
        assert roundtrip(sock, b"x") == b"x"
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(10) == b""  # the echo server saw our EOF and closed; the proxy passed that on
        sock.close()
