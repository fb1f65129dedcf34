"""Keep access tokens out of logs at every level.

websockets logs every handshake header at DEBUG, `Authorization: Bearer ...` included, on both the runner and the
desktop side. This filter rewrites such records (and any other record that contains a known token) before a handler
sees them.
"""

from __future__ import annotations

import logging

_HEADER_FORMATS = {"> %s: %s", "< %s: %s"}
REDACTED = "[redacted]"


class TokenRedactor(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.msg in _HEADER_FORMATS and isinstance(args, tuple) and len(args) == 2:
            if str(args[0]).lower() in ("authorization", "proxy-authorization"):
                record.args = (args[0], REDACTED)
                return True
        if self.tokens:
            text = record.getMessage()
            if any(t in text for t in self.tokens):
                for token in self.tokens:
                    text = text.replace(token, REDACTED)
                record.msg, record.args = text, None
        return True


_redactor = TokenRedactor()


def redact_in_logs(*tokens: str) -> None:
    """Install the filter (idempotent) on websockets' loggers and the root handlers, and add `tokens` to it."""
    _redactor.tokens.update(t for t in tokens if t)
    targets: list[logging.Filterer] = [logging.getLogger("websockets.server"), logging.getLogger("websockets.client")]
    targets.extend(logging.getLogger().handlers)
    for target in targets:
        if _redactor not in target.filters:
            target.addFilter(_redactor)
