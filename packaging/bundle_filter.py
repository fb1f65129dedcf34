"""What the PyInstaller bundle leaves out, as pure functions over PyInstaller TOC entries.

A TOC entry is ``(dest_name, src_path, typecode)``. The spec file calls :func:`prune` on each Analysis; the
tests call the same functions on hand-made entries, so the policy is checked without running PyInstaller.

The app uses QtCore, QtGui, QtWidgets, QtNetwork (only QNetworkInformation) and QtDBus. Everything else from
the PySide6 wheel that the hooks drag in is cut here, checked by the smoke test (sizes: packaging/README.md).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from pathlib import PurePosixPath

TocEntry = tuple[str, str, str]

# Other Qt bindings (PyInstaller refuses to collect two), GUI toolkits and tooling the app never imports.
EXCLUDED_MODULES = [
    "PyQt5",
    "PyQt6",
    "PySide2",
    "qtpy",
    "tkinter",
    "_tkinter",
    "turtle",
    "turtledemo",
    "idlelib",
    "lib2to3",
    "pydoc_data",
    "ensurepip",
    "venv",
    "distutils",
    "setuptools",
    "pkg_resources",
    "pip",
    "test",
    "unittest",
    "doctest",
    "pytest",
    "_pytest",
    "IPython",
    "numpy",
    # Interactive line editing: the app never reads a terminal, and the module links libreadline.
    "readline",
]

# PySide6 modules the app does not import; excluded so no hook pulls them in through a side door.
EXCLUDED_QT_MODULES = [
    f"PySide6.{name}"
    for name in (
        "Qt3DAnimation Qt3DCore Qt3DExtras Qt3DInput Qt3DLogic Qt3DRender QtAxContainer QtBluetooth QtCharts "
        "QtConcurrent QtDataVisualization QtDesigner QtGraphs QtGraphsWidgets QtHelp QtHttpServer QtLocation "
        "QtMultimedia QtMultimediaWidgets QtNetworkAuth QtNfc QtOpenGL QtOpenGLWidgets QtPdf QtPdfWidgets "
        "QtPositioning QtPrintSupport QtQml QtQuick QtQuick3D QtQuickControls2 QtQuickTest QtQuickWidgets "
        "QtRemoteObjects QtScxml QtSensors QtSerialBus QtSerialPort QtSpatialAudio QtSql QtStateMachine "
        "QtSvgWidgets QtTest QtTextToSpeech QtUiTools QtWebChannel QtWebEngineCore QtWebEngineQuick "
        "QtWebEngineWidgets QtWebSockets QtWebView QtXml QtCanvasPainter"
    ).split()
]

# The runner executable is pure asyncio: none of Qt or the desktop's dependencies belong in its archive.
RUNNER_EXCLUDED_MODULES = [
    "PySide6",
    "shiboken6",
    "qasync",
    "desktop",
    "keyring",
    "secretstorage",
    "cryptography",
]

# Qt libraries kept, by module name (libQt6Gui.so.6, Qt6Gui.dll, QtGui.framework all map to "Gui").
# Svg backs the SVG icon engine; XcbQpa, Wayland* and OpenGL back the Linux platform plugins kept below.
KEPT_QT_LIBRARIES = {
    "Core",
    "Gui",
    "Widgets",
    "Network",
    "DBus",
    "Svg",
    "XcbQpa",
    "WaylandClient",
    "WlShellIntegration",
    "OpenGL",
}

# Qt plugins kept, by directory; None keeps the whole directory. Directories not listed are dropped
# (tls: the app speaks plain WebSocket on loopback through Python, not Qt; sqldrivers, qmltooling, generic
# input, eglfs, printsupport, ...: unused).
KEPT_QT_PLUGINS: dict[str, set[str] | None] = {
    # offscreen runs the smoke test; xcb and wayland are the Linux desktops; cocoa and windows the others.
    "platforms": {"qxcb", "qwayland", "qwayland-generic", "qwayland-egl", "qoffscreen", "qcocoa", "qwindows"},
    # The portal theme follows the desktop's dark mode and gives native file dialogs without linking GTK.
    "platformthemes": {"qxdgdesktopportal"},
    # Dead keys (compose) and input methods (ibus); the virtual keyboard needs QtQuick.
    "platforminputcontexts": {"composeplatforminputcontextplugin", "ibusplatforminputcontextplugin"},
    "styles": None,
    "imageformats": {"qsvg", "qico"},
    "iconengines": {"qsvgicon"},
    "networkinformation": None,
    "xcbglintegrations": None,
    "wayland-decoration-client": None,
    "wayland-shell-integration": {"xdg-shell"},
    "wayland-graphics-integration-client": {"qt-plugin-wayland-egl"},
}

# Windows: the software OpenGL fallback and Direct3D shader compiler, only used by OpenGL/Quick content.
DROPPED_FILE_NAMES = {"opengl32sw.dll", "d3dcompiler_47.dll"}

_QT_FRAMEWORK = re.compile(r"^Qt(?P<module>\w+)\.framework$")  # macOS: QtGui.framework/...
_QT_SHARED_LIBRARY = (
    re.compile(r"^libQt6(?P<module>\w+?)\.so(\.\d+)*$"),  # Linux: libQt6Gui.so.6
    re.compile(r"^Qt6(?P<module>\w+)\.dll$"),  # Windows: Qt6Gui.dll
)

_LINUX_SYSTEM_LIBRARY_DIRS = ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/usr/local/lib/")


def _parts(dest_name: str) -> tuple[str, ...]:
    return PurePosixPath(dest_name.replace("\\", "/")).parts


def qt_library_module(dest_name: str) -> str | None:
    """Qt module of a Qt library entry: "Gui" for libQt6Gui.so.6, Qt6Gui.dll or a file in QtGui.framework.

    Python binding modules (PySide6/QtGui.abi3.so, QtGui.pyd) and plugins are not Qt libraries.
    """
    parts = _parts(dest_name)
    if not parts or parts[0] != "PySide6" or "plugins" in parts:
        return None
    for part in parts:
        match = _QT_FRAMEWORK.match(part)
        if match:
            return match.group("module")
    for pattern in _QT_SHARED_LIBRARY:
        match = pattern.match(parts[-1])
        if match:
            return match.group("module")
    return None


def qt_plugin(dest_name: str) -> tuple[str, str] | None:
    """``(directory, base name)`` of a Qt plugin entry ("platforms", "qxcb"), else None."""
    parts = _parts(dest_name)
    if "PySide6" not in parts or "plugins" not in parts:
        return None
    index = parts.index("plugins")
    if len(parts) != index + 3:
        return None
    directory, file_name = parts[index + 1], parts[index + 2]
    base = re.sub(r"(\.so|\.dylib|\.dll)$", "", file_name)
    if file_name.endswith((".so", ".dylib")) and base.startswith("lib"):
        base = base[3:]
    # Debug builds of Windows plugins end in "d" (qwindowsd.dll); they never ship, keep the name as is.
    return directory, base


def is_qt_translation(dest_name: str) -> bool:
    parts = _parts(dest_name)
    return "PySide6" in parts and "translations" in parts


def is_linux_system_library(src_path: str, dest_name: str) -> bool:
    """A shared library PyInstaller copied from the Linux system library directories.

    On Linux these come from the distribution instead (the .deb declares them in Depends), except the Python
    interpreter's own files, which may live there when the build uses the distribution's Python.
    """
    if not src_path.startswith(_LINUX_SYSTEM_LIBRARY_DIRS):
        return False
    name = _parts(dest_name)[-1]
    if name.startswith("libpython") or "lib-dynload" in _parts(dest_name) or "/python3" in src_path:
        return False
    return True


def keep_entry(entry: TocEntry, platform: str) -> bool:
    """Whether a binary or data TOC entry belongs in the bundle. ``platform`` is sys.platform."""
    dest_name, src_path, _typecode = entry
    if _parts(dest_name)[-1].lower() in DROPPED_FILE_NAMES:
        return False
    if is_qt_translation(dest_name):
        # The UI is English only; Qt's own translations would only relabel standard dialog buttons.
        return False
    plugin = qt_plugin(dest_name)
    if plugin is not None:
        directory, base = plugin
        if directory not in KEPT_QT_PLUGINS:
            return False
        kept = KEPT_QT_PLUGINS[directory]
        return kept is None or base in kept
    module = qt_library_module(dest_name)
    if module is not None:
        return module in KEPT_QT_LIBRARIES
    if platform.startswith("linux") and is_linux_system_library(src_path, dest_name):
        return False
    return True


def prune(entries: Iterable[TocEntry], platform: str) -> list[TocEntry]:
    """The entries :func:`keep_entry` keeps, order preserved.

    PyInstaller also lists symbolic links (typecode SYMLINK, source = target relative to the link's
    directory); a link survives only if its target does, so no dangling links to dropped libraries remain.
    """
    entries = list(entries)
    kept = [entry for entry in entries if entry[2] == "SYMLINK" or keep_entry(entry, platform)]
    present = {PurePosixPath(*_parts(entry[0])) for entry in kept if entry[2] != "SYMLINK"}

    def target_present(entry: TocEntry) -> bool:
        link = PurePosixPath(*_parts(entry[0]))
        target = posixpath.normpath(str(link.parent / entry[1].replace("\\", "/")))
        return PurePosixPath(target) in present

    return [entry for entry in kept if entry[2] != "SYMLINK" or target_present(entry)]
