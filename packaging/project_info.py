"""Names and version shared by every packaging recipe.

The version has one source, ``runner/__init__.py`` ``__version__`` (pyproject reads it the same way). It is
parsed, not imported, so recipes work in any Python without the project's dependencies installed.

Run as a script to print a field for shell scripts: ``python packaging/project_info.py version``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION_FILE = ROOT / "runner" / "__init__.py"

APP_NAME = "Nightshift"
# Executable, Debian package and desktop-entry base name.
PACKAGE_NAME = "nightshift"
RUNNER_NAME = "nightshift-runner"
BUNDLE_ID = "org.nightshift.Nightshift"
SUMMARY = "A desktop companion for coding agents"
DESCRIPTION = "Agents keep running while you are away; every view catches up exactly where it left off."
MAINTAINER = "Nightshift developers <nightshift@users.noreply.github.com>"
LICENSE = "MIT"
# Linux installs the bundle here; /usr/bin gets symlinks.
LINUX_PREFIX = "/opt/nightshift"


def read_version(version_file: Path = VERSION_FILE) -> str:
    """Return the string assigned to ``__version__`` in ``version_file``."""
    tree = ast.parse(version_file.read_text(encoding="utf-8"), filename=str(version_file))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__version__" for target in node.targets
        ):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return node.value.value
    raise ValueError(f"no string __version__ assignment in {version_file}")


def windows_file_version(version: str) -> str:
    """Four-part numeric version for Windows version resources and Inno Setup ("0.1.0rc1" -> "0.1.0.0")."""
    parts: list[str] = []
    for piece in version.split(".")[:4]:
        digits = ""
        for char in piece:
            if not char.isdigit():
                break
            digits += char
        parts.append(digits or "0")
    while len(parts) < 4:
        parts.append("0")
    return ".".join(parts)


def macos_info_plist(version: str) -> dict[str, object]:
    """Info.plist keys merged into the ones PyInstaller writes for Nightshift.app."""
    return {
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleExecutable": PACKAGE_NAME,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "LSMinimumSystemVersion": "12.0",
        "LSApplicationCategoryType": "public.app-category.developer-tools",
        "NSHighResolutionCapable": True,
        # BUNDLE inherits console=True from the last EXE in the COLLECT (the runner) and would then mark the
        # whole app background-only: no Dock icon, no menu bar. The app is a foreground GUI app.
        "LSBackgroundOnly": False,
        # Follow the system's dark mode instead of forcing the light appearance.
        "NSRequiresAquaSystemAppearance": False,
        "NSHumanReadableCopyright": f"{APP_NAME} developers, {LICENSE} licence",
    }


def windows_version_resource(version: str, executable: str) -> str:
    """PyInstaller version-resource file text: Explorer shows product name and version of the .exe files."""
    numeric = windows_file_version(version)
    as_tuple = "(" + ", ".join(numeric.split(".")) + ")"
    strings = {
        "CompanyName": f"{APP_NAME} developers",
        "FileDescription": f"{APP_NAME}: {SUMMARY}",
        "FileVersion": version,
        "InternalName": executable,
        "LegalCopyright": f"{LICENSE} licence",
        "OriginalFilename": f"{executable}.exe",
        "ProductName": APP_NAME,
        "ProductVersion": version,
    }
    string_structs = ",\n".join(
        f"          StringStruct({key!r}, {value!r})" for key, value in strings.items()
    )
    return f"""VSVersionInfo(
  ffi=FixedFileInfo(filevers={as_tuple}, prodvers={as_tuple}, mask=0x3f, flags=0x0, OS=0x40004,
                    fileType=0x1, subtype=0x0, date=(0, 0)),
  kids=[
    StringFileInfo([
      StringTable('040904B0', [
{string_structs}
      ])
    ]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""


def main(argv: list[str]) -> int:
    fields = {
        "version": read_version,
        "windows-version": lambda: windows_file_version(read_version()),
        "app-name": lambda: APP_NAME,
        "package-name": lambda: PACKAGE_NAME,
        "bundle-id": lambda: BUNDLE_ID,
    }
    if len(argv) != 2 or argv[1] not in fields:
        print(f"usage: {argv[0]} {{{'|'.join(fields)}}}", file=sys.stderr)
        return 2
    print(fields[argv[1]]())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
