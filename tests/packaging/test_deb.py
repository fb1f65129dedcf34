"""The .deb layout and metadata, built for real with dpkg-deb from a tiny stand-in bundle."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import deb
import icons
import project_info
import pytest

needs_dpkg = pytest.mark.needs_tools("dpkg-deb", "dpkg-shlibdeps", package="dpkg-dev")


def fake_bundle(tmp_path: Path) -> Path:
    """A bundle-shaped folder whose executables are real ELF programs (copies of /bin/true)."""
    bundle = tmp_path / "bundle"
    (bundle / "_internal" / "resources").mkdir(parents=True)
    for name in (project_info.PACKAGE_NAME, project_info.RUNNER_NAME):
        shutil.copy2("/bin/true", bundle / name)
    (bundle / "_internal" / "resources" / "data.txt").write_text("x")
    return bundle


def test_desktop_entry_launches_nightshift_with_its_icon() -> None:
    lines = deb.DESKTOP_FILE.read_text().splitlines()
    assert lines[0] == "[Desktop Entry]"
    entry = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    assert entry["Type"] == "Application"
    assert entry["Name"] == project_info.APP_NAME
    assert entry["Exec"] == project_info.PACKAGE_NAME
    assert entry["Icon"] == project_info.PACKAGE_NAME
    assert entry["Terminal"] == "false"


@pytest.mark.needs_tools("desktop-file-validate", package="desktop-file-utils")
def test_desktop_entry_validates() -> None:
    result = subprocess.run(["desktop-file-validate", str(deb.DESKTOP_FILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout


def test_control_file_fields() -> None:
    text = deb.control_text("1.2.0rc1", "amd64", "libc6 (>= 2.35)", 1234)
    fields = dict(line.split(": ", 1) for line in text.splitlines() if not line.startswith(" "))
    assert fields["Package"] == "nightshift"
    assert fields["Version"] == "1.2.0~rc1"
    assert fields["Architecture"] == "amd64"
    assert fields["Depends"] == "libc6 (>= 2.35)"
    assert fields["Installed-Size"] == "1234"
    assert "<" in fields["Maintainer"] and fields["Maintainer"].endswith(">")
    # Extended description lines start with a space; an empty line would end the stanza.
    assert "\n\n" not in text


def test_stage_lays_out_the_installed_tree(tmp_path: Path) -> None:
    root = tmp_path / "root"
    deb.stage(fake_bundle(tmp_path), root, icons.PNG_DIR, icons.SVG_SOURCE)
    prefix = root / "opt" / "nightshift"
    assert (prefix / "nightshift").is_file()
    for name in ("nightshift", "nightshift-runner"):
        link = root / "usr" / "bin" / name
        assert link.is_symlink()
        assert not os.readlink(link).startswith("/"), "relative, so an unpacked copy works anywhere"
        assert link.resolve() == (prefix / name).resolve()
    assert (root / "usr" / "share" / "applications" / "nightshift.desktop").is_file()
    for size in deb.HICOLOR_SIZES:
        png = root / "usr" / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "nightshift.png"
        assert icons.png_dimensions(png.read_bytes()) == (size, size)
    assert (root / "usr" / "share" / "icons" / "hicolor" / "scalable" / "apps" / "nightshift.svg").is_file()
    assert (root / "usr" / "share" / "doc" / "nightshift" / "copyright").is_file()


@needs_dpkg
def test_build_deb_produces_an_installable_package(tmp_path: Path) -> None:
    package = deb.build_deb(fake_bundle(tmp_path), tmp_path, "0.9.0", icons.PNG_DIR, icons.SVG_SOURCE)
    assert package.name == f"nightshift_0.9.0_{deb.architecture()}.deb"
    info = subprocess.run(["dpkg-deb", "--info", str(package)], capture_output=True, text=True, check=True)
    assert "Package: nightshift" in info.stdout
    assert "Version: 0.9.0" in info.stdout
    # Depends comes from what the ELF files link: /bin/true needs the C library.
    depends = subprocess.run(
        ["dpkg-deb", "--field", str(package), "Depends"], capture_output=True, text=True, check=True
    ).stdout
    assert depends.startswith("libc6")
    contents = subprocess.run(["dpkg-deb", "--contents", str(package)], capture_output=True, text=True).stdout
    rows = {line.split()[5].lstrip("."): line for line in contents.splitlines()}
    assert rows["/opt/nightshift/nightshift"].startswith("-rwxr-xr-x root/root")
    assert rows["/opt/nightshift/_internal/resources/data.txt"].startswith("-rw-r--r-- root/root")
    assert "/usr/bin/nightshift" in rows
    unpacked = tmp_path / "unpacked"
    subprocess.run(["dpkg-deb", "-x", str(package), str(unpacked)], check=True)
    assert subprocess.run([str(unpacked / "usr" / "bin" / "nightshift")]).returncode == 0
