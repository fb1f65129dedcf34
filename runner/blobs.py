"""Images that agents' tool results carry, stored once in the data folder (DATA_DIR/blobs/<sha256>.<ext>).

An image arrives base64-encoded inside an agent's JSON line. Journaled as it is, it would sit in the event, in every
catch-up frame and in every search read; instead the runner keeps the bytes once per content (the file name is their
SHA-256) and the `tool_result` event keeps a reference (`images`, EVENTS.md). Views fetch the bytes with `get_blob`
(PROTOCOL.md).

Order of writes: a blob is written (fsync, atomic rename, fsync of the folder) on the journal's writer thread before
the commit that holds the first event referring to it (Journal.before_commit), so a committed event never points at a
missing file, and the runner's loop never waits for the disk. Each session lists the blobs its events refer to in its
state (`blobs`); a blob no session lists is removed when its last session is deleted, and at start (a crash between
a blob's write and its event's commit leaves one behind).

Only real images are kept: the type comes from the bytes' magic (PNG, JPEG, GIF, WebP), whatever the agent declared,
and an image over MAX_IMAGE_BYTES is not stored. What cannot be kept is said in the event's text instead; the turn
goes on.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import logging
import os
import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from runner.atomic_file import write_atomically
from runner.vocabulary import ErrorCode, RequestError

log = logging.getLogger(__name__)

BLOB_ID_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_IMAGE_BYTES = 8 * 1024 * 1024
"""The largest image kept. Its `blob` reply (base64) is then under 11 MiB, well within the 64 MiB views accept;
Claude Code itself resizes what it reads to a few MB at most."""
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
MEDIA_TYPES = {ext: media for media, ext in EXTENSIONS.items()}
TMP_SUFFIX = ".tmp"


@dataclass(frozen=True, slots=True)
class Image:
    """An image of a tool result: its bytes and the reference the event keeps."""

    data: bytes
    ref: dict[str, Any]
    """{"blob": sha256 hex, "media_type", "bytes", "width"?, "height"?}"""

    @property
    def blob_id(self) -> str:
        return str(self.ref["blob"])


def sniff(data: bytes) -> tuple[str, int | None, int | None] | None:
    """(media type, width, height) from the bytes themselves, or None when they are not a PNG, JPEG, GIF or WebP.
    The size is None where the header does not give it simply."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return "image/png", width, height
    if data[:3] == b"\xff\xd8\xff":
        width_height = _jpeg_size(data)
        return "image/jpeg", *(width_height or (None, None))
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return "image/gif", width, height
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", *(_webp_size(data) or (None, None))
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """The size in a JPEG's first start-of-frame segment."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _size_text(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} KB"


def image_from_base64(encoded: object, declared: object = None) -> tuple[Image | None, str]:
    """An agent's base64 image: (the Image, or None when it is not one that can be kept; the text that stands for it
    in the event's `output`, saying why when it is not kept). `declared` is the agent's media type, only reported."""
    if not isinstance(encoded, str):
        return None, "[image not shown: no image data]"
    if len(encoded) > (MAX_IMAGE_BYTES * 4) // 3 + 4:  # decoding would only confirm it is too big
        return None, f"[image not shown: {_size_text(len(encoded) * 3 // 4)} is over the " \
                     f"{_size_text(MAX_IMAGE_BYTES)} limit]"
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None, "[image not shown: its data is not valid base64]"
    return image_from_bytes(data, declared)


def image_from_bytes(data: bytes, declared: object = None) -> tuple[Image | None, str]:
    if len(data) > MAX_IMAGE_BYTES:
        return None, f"[image not shown: {_size_text(len(data))} is over the {_size_text(MAX_IMAGE_BYTES)} limit]"
    found = sniff(data)
    if found is None:
        said = f" (declared {declared})" if isinstance(declared, str) and declared else ""
        return None, f"[image not shown: the data{said} is not a PNG, JPEG, GIF or WebP image]"
    media_type, width, height = found
    ref: dict[str, Any] = {"blob": hashlib.sha256(data).hexdigest(), "media_type": media_type, "bytes": len(data)}
    if width and height:
        ref.update(width=width, height=height)
    dims = f" {width}x{height}" if width and height else ""
    kind = EXTENSIONS[media_type].upper()
    return Image(data, ref), f"[image: {kind}{dims}, {_size_text(len(data))}]"


def check_blob_id(blob_id: object) -> str:
    """A blob id from a view: 64 lowercase hex digits, nothing else (so never a path)."""
    if not isinstance(blob_id, str) or not BLOB_ID_RE.match(blob_id):
        raise RequestError(ErrorCode.BAD_REQUEST, "'blob' must be a blob id (64 lowercase hexadecimal digits)")
    return blob_id


class BlobStore:
    """The blobs of one data folder. The ids of the files present or on their way are kept in memory (`known`), so
    a repeated image is written once."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.known: dict[str, str] = {}
        """blob id -> its file's extension, for every blob on disk or scheduled to be written."""

    @classmethod
    def open(cls, folder: str) -> BlobStore:
        store = cls(folder)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        for name in os.listdir(folder):
            stem, _, ext = name.partition(".")
            if name.endswith(TMP_SUFFIX):
                with contextlib.suppress(OSError):  # a write cut short by a crash: never referred to
                    os.unlink(os.path.join(folder, name))
            elif BLOB_ID_RE.match(stem) and ext in MEDIA_TYPES:
                store.known[stem] = ext
        return store

    def _path(self, blob_id: str, ext: str) -> str:
        return os.path.join(self.folder, f"{blob_id}.{ext}")

    def store(self, image: Image, before_commit: Callable[[Callable[[], None], int], None]) -> None:
        """Have `image` written before the next journal commit (`before_commit` is Journal.before_commit)."""
        blob_id = image.blob_id
        if blob_id in self.known:
            return
        ext = EXTENSIONS[image.ref["media_type"]]
        self.known[blob_id] = ext
        path = self._path(blob_id, ext)
        data = image.data
        before_commit(lambda: self._write(path, data), len(data))

    def _write(self, path: str, data: bytes) -> None:
        """Write durably (on the journal's writer thread). Idempotent: a failed commit retries it."""
        if os.path.exists(path):
            return
        write_atomically(path, data)

    def forget(self, blob_ids: Iterable[str], before_commit: Callable[[Callable[[], None], int], None]) -> None:
        """Remove blobs no session refers to any more. Done on the journal's writer thread, in order with writes: an
        image stored again right after is written again after the removal, not lost to it."""
        paths = []
        for blob_id in blob_ids:
            ext = self.known.pop(blob_id, None)
            if ext is not None:
                paths.append(self._path(blob_id, ext))
        if paths:
            before_commit(lambda: self._remove(paths), 0)

    @staticmethod
    def _remove(paths: list[str]) -> None:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def sweep(self, referenced: set[str]) -> int:
        """At start: remove the blobs no session refers to. Returns how many."""
        orphans = [blob_id for blob_id in self.known if blob_id not in referenced]
        for blob_id in orphans:
            with contextlib.suppress(OSError):
                os.unlink(self._path(blob_id, self.known.pop(blob_id)))
        if orphans:
            log.info("removed %d image(s) no session refers to", len(orphans))
        return len(orphans)

    async def read(self, blob_id: object) -> tuple[str, bytes]:
        """(media type, bytes) of a blob, for `get_blob`. Raises RequestError (bad_request, not_found, io_error)."""
        checked = check_blob_id(blob_id)
        ext = self.known.get(checked)
        if ext is None:
            raise RequestError(ErrorCode.NOT_FOUND, f"no blob {checked}")
        path = self._path(checked, ext)
        try:
            data = await asyncio.to_thread(_read_file, path)
        except FileNotFoundError:
            raise RequestError(ErrorCode.NOT_FOUND, f"no blob {checked}") from None
        except OSError as exc:
            raise RequestError(ErrorCode.IO_ERROR, f"cannot read blob {checked}: {exc.strerror or exc}") from None
        return MEDIA_TYPES[ext], data


def _read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()
