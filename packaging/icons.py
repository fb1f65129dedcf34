"""Raster app icons from resources/nightshift.svg: PNGs for every size, a Windows .ico and a macOS .icns.

    python packaging/icons.py          # regenerate resources/icons/*.png, nightshift.ico, nightshift.icns

Rasterising needs PySide6 (QtSvg); the .ico and .icns containers are written here directly (both are a small
header followed by PNG images), so no platform tool (iconutil, ImageMagick) is needed and CI runners on any OS
produce identical files. The results are committed; the builds only read them.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
SVG_SOURCE = RESOURCES / "nightshift.svg"
PNG_DIR = RESOURCES / "icons"
ICO_FILE = RESOURCES / "nightshift.ico"
ICNS_FILE = RESOURCES / "nightshift.icns"

# Linux hicolor sizes (16..512), Windows shell sizes (16..256) and the macOS 1024 master.
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# icns element types holding PNG data, with the pixel size each one carries (ic11..ic14 are the @2x variants).
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"ic11", 32),
    (b"icp6", 64),
    (b"ic12", 64),
    (b"ic07", 128),
    (b"ic13", 256),
    (b"ic08", 256),
    (b"ic14", 512),
    (b"ic09", 512),
    (b"ic10", 1024),
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_path(size: int) -> Path:
    return PNG_DIR / f"nightshift-{size}.png"


def png_dimensions(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk; ValueError if ``data`` is not a PNG."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def build_ico(pngs: dict[int, bytes]) -> bytes:
    """An .ico holding one PNG-compressed 32-bit image per size (Windows Vista and later read these)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries = b""
    images = b""
    for size in sizes:
        data = pngs[size]
        # A width/height byte of 0 means 256.
        dimension = 0 if size >= 256 else size
        entries += struct.pack("<BBBBHHII", dimension, dimension, 0, 0, 1, 32, len(data), offset)
        images += data
        offset += len(data)
    return header + entries + images


def parse_ico(data: bytes) -> list[tuple[int, bytes]]:
    """``(size, image bytes)`` per entry of an .ico file."""
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    if reserved != 0 or kind != 1:
        raise ValueError("not an .ico file")
    result = []
    for index in range(count):
        width, _height, _colors, _reserved, _planes, _bits, length, offset = struct.unpack_from(
            "<BBBBHHII", data, 6 + 16 * index
        )
        result.append((width or 256, data[offset : offset + length]))
    return result


def build_icns(pngs: dict[int, bytes]) -> bytes:
    """An .icns with one PNG element per type in :data:`ICNS_TYPES`."""
    body = b""
    for element_type, size in ICNS_TYPES:
        data = pngs[size]
        body += element_type + struct.pack(">I", 8 + len(data)) + data
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def parse_icns(data: bytes) -> list[tuple[bytes, bytes]]:
    """``(element type, element bytes)`` per element of an .icns file."""
    if data[:4] != b"icns" or struct.unpack(">I", data[4:8])[0] != len(data):
        raise ValueError("not an .icns file")
    result = []
    offset = 8
    while offset < len(data):
        element_type = data[offset : offset + 4]
        (length,) = struct.unpack(">I", data[offset + 4 : offset + 8])
        result.append((element_type, data[offset + 8 : offset + length]))
        offset += length
    return result


def render_pngs(svg: Path, sizes: tuple[int, ...]) -> dict[int, bytes]:
    """Rasterise ``svg`` at each size with Qt's SVG renderer (antialiased, transparent background)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(["icons", "-platform", "offscreen"])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"cannot parse {svg}")
    result = {}
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        buffer.close()
        result[size] = bytes(data.data())
    del app
    return result


def main() -> int:
    pngs = render_pngs(SVG_SOURCE, PNG_SIZES)
    PNG_DIR.mkdir(parents=True, exist_ok=True)
    for size, data in pngs.items():
        png_path(size).write_bytes(data)
    ICO_FILE.write_bytes(build_ico({size: pngs[size] for size in ICO_SIZES}))
    ICNS_FILE.write_bytes(build_icns(pngs))
    print(f"wrote {len(pngs)} PNGs, {ICO_FILE.name}, {ICNS_FILE.name} under {RESOURCES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
