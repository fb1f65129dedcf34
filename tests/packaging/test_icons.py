"""The committed app icons: every size each platform needs, valid images, containers readable."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import icons
import pytest


@pytest.mark.parametrize("size", icons.PNG_SIZES)
def test_png_exists_with_its_size(size: int) -> None:
    data = icons.png_path(size).read_bytes()
    assert icons.png_dimensions(data) == (size, size)


def test_png_sizes_cover_every_platform() -> None:
    # hicolor 16..512 (the .deb), Windows shell up to 256, macOS up to 1024.
    assert {16, 24, 32, 48, 64, 128, 256, 512, 1024} <= set(icons.PNG_SIZES)


def test_pngs_are_not_blank() -> None:
    # A broken render (empty SVG, wrong viewBox) still yields a valid, fully transparent PNG: decode and look.
    from PySide6.QtGui import QImage

    image = QImage(str(icons.png_path(64)))
    assert not image.isNull()
    opaque = sum(1 for x in range(64) for y in range(64) if image.pixelColor(x, y).alpha() > 200)
    assert opaque > 64 * 64 // 2
    # The corner lies outside the rounded tile and stays transparent.
    assert image.pixelColor(0, 0).alpha() == 0


def test_svg_source_is_square_and_shape_only() -> None:
    root = ET.parse(icons.SVG_SOURCE).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 1024 1024"
    # Text would render differently with each renderer's fonts.
    assert not list(root.iter("{http://www.w3.org/2000/svg}text"))


def test_ico_holds_each_windows_size_as_png() -> None:
    entries = icons.parse_ico(icons.ICO_FILE.read_bytes())
    assert [size for size, _ in entries] == sorted(icons.ICO_SIZES)
    for size, data in entries:
        assert icons.png_dimensions(data) == (size, size)


def test_icns_holds_each_macos_element_as_png() -> None:
    entries = icons.parse_icns(icons.ICNS_FILE.read_bytes())
    assert [kind for kind, _ in entries] == [kind for kind, _ in icons.ICNS_TYPES]
    for (kind, data), (_, size) in zip(entries, icons.ICNS_TYPES, strict=True):
        assert icons.png_dimensions(data) == (size, size), kind


def test_containers_round_trip() -> None:
    pngs = {size: icons.png_path(size).read_bytes() for size in icons.PNG_SIZES}
    ico = icons.build_ico({size: pngs[size] for size in (16, 256)})
    assert icons.parse_ico(ico) == [(16, pngs[16]), (256, pngs[256])]
    icns = icons.build_icns(pngs)
    assert dict(icons.parse_icns(icns))[b"ic10"] == pngs[1024]


def test_png_dimensions_rejects_other_data() -> None:
    with pytest.raises(ValueError):
        icons.png_dimensions(b"GIF89a" + b"\0" * 30)


def test_committed_icons_match_the_svg_source(qapp: object) -> None:
    # Regenerating must reproduce the committed files: nobody edited the SVG and forgot `packaging/icons.py`.
    rendered = icons.render_pngs(icons.SVG_SOURCE, (48,))
    from PySide6.QtGui import QImage

    fresh = QImage.fromData(rendered[48])
    committed = QImage(str(icons.png_path(48)))
    differing = sum(
        1
        for x in range(48)
        for y in range(48)
        if abs(fresh.pixelColor(x, y).alpha() - committed.pixelColor(x, y).alpha()) > 8
    )
    assert differing < 20
