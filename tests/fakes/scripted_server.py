"""What the scripted model servers (anthropic_server.py, openai_server.py, gemini_server.py) share: an HTTP server on
127.0.0.1 with a random port in a daemon thread, a queue of scripted replies, the request bodies recorded, replies
streamed as server-sent events, and `fail_with`, which answers every model request with an HTTP error in the API's
own words (401: a refused key, 429: a rate limit).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Generic, TypeVar

Reply = TypeVar("Reply")


class ScriptedServer(Generic[Reply]):
    """Subclasses set `handler` (a ScriptedHandler subclass) and `error_body` (the API's error bodies)."""

    handler: ClassVar[type[ScriptedHandler]]
    thread_name: ClassVar[str] = "scripted-api"

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._script: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        """Bodies of the model requests (those that take a scripted reply, or fail with `fail_with`), in order."""
        self.side_requests: list[dict[str, Any]] = []
        """Bodies of the requests a CLI makes on its own (titles, summaries), answered without the script."""
        self.streams_cut = 0
        """How many streamed replies ended early because the client went away (an interrupt)."""
        self.fail_with = 0
        """Non-zero: every model request is answered with this HTTP error (retries too): 401, 429."""
        self._httpd: ThreadingHTTPServer | None = None

    # --- scripting ------------------------------------------------------------------------------------------

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)
            self._lock.notify_all()

    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    def wait_requests(self, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Wait until at least `count` model requests have arrived."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"only {len(self.requests)} of {count} requests arrived")
                self._lock.wait(left)
            return list(self.requests)

    def take(self, body: dict[str, Any]) -> Reply | None:
        """Record a model request; the next scripted reply, or None when the script is used up."""
        with self._lock:
            self.requests.append(body)
            self._lock.notify_all()
            return self._script.pop(0) if self._script else None

    def record(self, body: dict[str, Any], side: bool = False) -> None:
        """Record a request that takes no scripted reply: a failed model request, or a side request."""
        with self._lock:
            (self.side_requests if side else self.requests).append(body)
            self._lock.notify_all()

    def stream_cut(self) -> None:
        with self._lock:
            self.streams_cut += 1

    @staticmethod
    def error_body(status: int) -> dict[str, Any]:
        """The API's JSON body for an HTTP error `status`."""
        raise NotImplementedError

    @staticmethod
    def text_reply(text: str) -> Reply:
        """A scripted reply in which the model says `text`."""
        raise NotImplementedError

    # --- lifecycle ------------------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        owner = self

        class Handler(self.handler):  # type: ignore[name-defined,misc]
            server_owner = owner

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name=self.thread_name, daemon=True).start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ScriptedServer[Reply]:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ScriptedHandler(BaseHTTPRequestHandler):
    server_owner: ScriptedServer[Any]
    protocol_version = "HTTP/1.1"
    retry_after_on_429: ClassVar[bool] = True
    """Send `retry-after: 1` with a 429, as the API does (clients that honour it retry quickly)."""

    def log_message(self, format: str, *args: Any) -> None:  # quiet; pytest shows failures anyway
        pass

    def send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def fail_if_asked(self, body: dict[str, Any]) -> bool:
        """With `fail_with` set: record the request, answer it with that error, and return True."""
        status = self.server_owner.fail_with
        if not status:
            return False
        self.server_owner.record(body)
        headers = {"retry-after": "1"} if status == 429 and self.retry_after_on_429 else None
        self.send_json(status, self.server_owner.error_body(status), headers)
        return True

    def stream(self, events: Iterable[tuple[str | None, Any]]) -> None:
        """Answer with server-sent events, (event name or None, data) each; pacing is the iterable's business.
        A client that goes away (an interrupt) is counted in `streams_cut`."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for name, data in events:
                head = f"event: {name}\n" if name else ""
                self.wfile.write(f"{head}data: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.server_owner.stream_cut()
