"""Debian package from the PyInstaller bundle, with dpkg-deb (no debhelper, no Docker).

Layout installed by the package:

    /opt/nightshift/                      the onedir bundle (nightshift, nightshift-runner, _internal/)
    /usr/bin/nightshift, nightshift-runner   symlinks into /opt/nightshift
    /usr/share/applications/nightshift.desktop
    /usr/share/icons/hicolor/*/apps/nightshift.{png,svg}
    /usr/share/doc/nightshift/copyright

The bundle carries Python, PySide6's Qt and ICU; libraries from the distribution (X11/xcb, Wayland, EGL/GL,
fontconfig, D-Bus, glib, OpenSSL, ...) are left out of it (packaging/bundle_filter.py) and declared in
Depends, which dpkg-shlibdeps computes from what the bundled ELF files really link against.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import project_info

LINUX_DIR = Path(__file__).resolve().parent / "linux"
DESKTOP_FILE = LINUX_DIR / "nightshift.desktop"
COPYRIGHT_FILE = LINUX_DIR / "copyright"
HICOLOR_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
SECTION = "devel"
# Not linked, so dpkg-shlibdeps cannot see them: a Secret Service provider for keyring.
SUGGESTS = "gnome-keyring | keepassxc"

_ELF_MAGIC = b"\x7fELF"


def debian_version(version: str) -> str:
    """Debian spelling of a PEP 440 version: pre-releases sort before the release ("1.0rc1" -> "1.0~rc1")."""
    match = re.fullmatch(r"(\d+(?:\.\d+)*)(?:[.-]?(a|b|rc|alpha|beta|dev)[.-]?(\d*))?(?:\+(.*))?", version)
    if not match:
        raise ValueError(f"unsupported version {version!r}")
    release, pre_kind, pre_number, local = match.groups()
    result = release
    if pre_kind:
        result += f"~{pre_kind}{pre_number}"
    if local:
        result += f"+{local}"
    return result


def control_text(
    version: str, architecture: str, depends: str, installed_size_kib: int, suggests: str = SUGGESTS
) -> str:
    """The DEBIAN/control file."""
    fields = {
        "Package": project_info.PACKAGE_NAME,
        "Version": debian_version(version),
        "Architecture": architecture,
        "Maintainer": project_info.MAINTAINER,
        "Installed-Size": str(installed_size_kib),
        "Depends": depends,
        "Suggests": suggests,
        "Section": SECTION,
        "Priority": "optional",
        "Description": f"{project_info.SUMMARY}\n {project_info.DESCRIPTION}\n .\n"
        " Includes nightshift-runner, the headless runner that the desktop app also embeds.",
    }
    return "".join(f"{key}: {value}\n" for key, value in fields.items() if value)


def is_elf(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    with path.open("rb") as handle:
        return handle.read(4) == _ELF_MAGIC


def elf_files(tree: Path) -> list[Path]:
    return sorted(path for path in tree.rglob("*") if is_elf(path))


def normalise_permissions(tree: Path) -> None:
    """Directories, executables and shared objects 0755, everything else 0644 (dpkg keeps staged modes)."""
    for path in [tree, *tree.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
        elif path.stat().st_mode & stat.S_IXUSR or is_elf(path):
            path.chmod(0o755)
        else:
            path.chmod(0o644)


def stage(bundle: Path, root: Path, icons_dir: Path, svg_icon: Path) -> None:
    """Lay out the installed file tree under ``root`` (which must not exist)."""
    prefix = root / project_info.LINUX_PREFIX.lstrip("/")
    prefix.parent.mkdir(parents=True)
    shutil.copytree(bundle, prefix, symlinks=True)

    bin_dir = root / "usr" / "bin"
    bin_dir.mkdir(parents=True)
    # Relative links keep working when the package is unpacked elsewhere than / (as the smoke test does).
    for executable in (project_info.PACKAGE_NAME, project_info.RUNNER_NAME):
        target = Path(os.path.relpath(prefix / executable, bin_dir))
        (bin_dir / executable).symlink_to(target)

    applications = root / "usr" / "share" / "applications"
    applications.mkdir(parents=True)
    shutil.copy2(DESKTOP_FILE, applications / f"{project_info.PACKAGE_NAME}.desktop")

    hicolor = root / "usr" / "share" / "icons" / "hicolor"
    for size in HICOLOR_SIZES:
        target_dir = hicolor / f"{size}x{size}" / "apps"
        target_dir.mkdir(parents=True)
        shutil.copy2(icons_dir / f"nightshift-{size}.png", target_dir / f"{project_info.PACKAGE_NAME}.png")
    scalable = hicolor / "scalable" / "apps"
    scalable.mkdir(parents=True)
    shutil.copy2(svg_icon, scalable / f"{project_info.PACKAGE_NAME}.svg")

    doc = root / "usr" / "share" / "doc" / project_info.PACKAGE_NAME
    doc.mkdir(parents=True)
    shutil.copy2(COPYRIGHT_FILE, doc / "copyright")


def shlib_depends(root: Path) -> str:
    """Depends computed by dpkg-shlibdeps for every ELF file under ``root``.

    Libraries inside the bundle are private (found through ``-l``); every other needed library must be
    installed on the build machine from a Debian package, otherwise dpkg-shlibdeps fails and names it.
    """
    files = elf_files(root)
    private_dirs = sorted({str(path.parent) for path in files if ".so" in path.name})
    # dpkg-shlibdeps wants to run in a source tree: it only reads debian/control from it.
    with tempfile.TemporaryDirectory(prefix="nightshift-shlibdeps-") as source:
        (Path(source) / "debian").mkdir()
        (Path(source) / "debian" / "control").write_text(
            f"Source: {project_info.PACKAGE_NAME}\n\n"
            f"Package: {project_info.PACKAGE_NAME}\nArchitecture: any\n"
        )
        command = ["dpkg-shlibdeps", "-O"]
        command += [f"-l{directory}" for directory in private_dirs]
        # Private libraries carry no shlibs info, and lintian-style notes about useless links are noise here.
        command += ["--warnings=0"]
        command += [f"-e{path}" for path in files]
        result = subprocess.run(command, cwd=source, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"dpkg-shlibdeps failed:\n{result.stderr}")
    for line in result.stdout.splitlines():
        if line.startswith("shlibs:Depends="):
            return line.split("=", 1)[1].strip()
    raise RuntimeError(f"dpkg-shlibdeps printed no shlibs:Depends:\n{result.stdout}\n{result.stderr}")


def architecture() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], check=True, capture_output=True, text=True
    ).stdout.strip()


def tree_size_kib(tree: Path) -> int:
    total = 0
    for path in tree.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
    return (total + 1023) // 1024


def build_deb(bundle: Path, out_dir: Path, version: str, icons_dir: Path, svg_icon: Path) -> Path:
    """Stage, compute Depends, write DEBIAN/control and run dpkg-deb; return the .deb path."""
    arch = architecture()
    work = out_dir / "deb-root"
    if work.exists():
        shutil.rmtree(work)
    stage(bundle, work, icons_dir, svg_icon)
    normalise_permissions(work)
    # dpkg-shlibdeps recognises libraries of the package being built by the DEBIAN directory at its root.
    control_dir = work / "DEBIAN"
    control_dir.mkdir()
    control_dir.chmod(0o755)
    depends = shlib_depends(work)
    installed_size = tree_size_kib(work)
    (control_dir / "control").write_text(control_text(version, arch, depends, installed_size))
    (control_dir / "control").chmod(0o644)
    deb = out_dir / f"{project_info.PACKAGE_NAME}_{debian_version(version)}_{arch}.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(work), str(deb)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return deb
