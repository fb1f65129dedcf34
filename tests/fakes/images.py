"""Real image files for tests, made without Qt (the runner's tests must not import it)."""

from __future__ import annotations

import struct
import zlib


def png(width: int, height: int, rgb: tuple[int, int, int], *, left_rgb: tuple[int, int, int] | None = None) -> bytes:
    """An RGB PNG of one colour; with `left_rgb`, its left half is that colour (so a test can tell the sides apart
    and see that an image is not mirrored or cropped)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    left = bytes(left_rgb or rgb)
    right = bytes(rgb)
    line = b"\x00" + left * (width // 2) + right * (width - width // 2)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(line * height))
            + chunk(b"IEND", b""))
