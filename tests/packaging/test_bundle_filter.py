"""What the PyInstaller bundle keeps and drops (packaging/bundle_filter.py), on made-up and real entries."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import bundle_filter
import project_info
import pytest
from bundle_filter import keep_entry, prune

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "packaging" / "nightshift.spec"
QT = "PySide6/Qt"


def binary(dest: str, src: str = "/venv/site-packages/x") -> tuple[str, str, str]:
    return (dest, src, "BINARY")


@pytest.mark.parametrize("binding", ["PyQt5", "PyQt6", "PySide2", "tkinter"])
def test_other_qt_bindings_and_tk_are_excluded_modules(binding: str) -> None:
    assert binding in bundle_filter.EXCLUDED_MODULES


def test_unused_pyside6_modules_are_excluded_but_used_ones_are_not() -> None:
    for used in ("QtCore", "QtGui", "QtWidgets", "QtNetwork", "QtDBus"):
        assert f"PySide6.{used}" not in bundle_filter.EXCLUDED_QT_MODULES
    for unused in ("QtQml", "QtQuick", "QtWebEngineCore", "QtMultimedia", "QtPdf"):
        assert f"PySide6.{unused}" in bundle_filter.EXCLUDED_QT_MODULES


def test_app_code_imports_only_qt_modules_the_bundle_keeps() -> None:
    imported: set[str] = set()
    for path in (REPO / "desktop").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("PySide6."):
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names if alias.name.startswith("PySide6."))
    assert imported, "desktop/ imports no PySide6 module at all?"
    excluded = set(bundle_filter.EXCLUDED_QT_MODULES)
    assert not imported & excluded, f"the app imports Qt modules the bundle excludes: {imported & excluded}"


def test_runner_executable_carries_no_qt() -> None:
    for module in ("PySide6", "shiboken6", "qasync", "desktop"):
        assert module in bundle_filter.RUNNER_EXCLUDED_MODULES


@pytest.mark.parametrize(
    ("dest", "module"),
    [
        (f"{QT}/lib/libQt6Gui.so.6", "Gui"),
        (f"{QT}/lib/libQt6WaylandClient.so.6", "WaylandClient"),
        ("PySide6/Qt6Widgets.dll", "Widgets"),
        (f"{QT}/lib/QtCore.framework/Versions/A/QtCore", "Core"),
        (f"{QT}/lib/QtQuick.framework/Resources/Info.plist", "Quick"),
        ("PySide6/QtGui.abi3.so", None),
        ("PySide6/QtGui.pyd", None),
        (f"{QT}/plugins/platforms/libqxcb.so", None),
        (f"{QT}/lib/libicudata.so.73", None),
    ],
)
def test_qt_library_module(dest: str, module: str | None) -> None:
    assert bundle_filter.qt_library_module(dest) == module


@pytest.mark.parametrize(
    ("dest", "plugin"),
    [
        (f"{QT}/plugins/platforms/libqxcb.so", ("platforms", "qxcb")),
        (f"{QT}/plugins/platforms/libqcocoa.dylib", ("platforms", "qcocoa")),
        ("PySide6\\plugins\\platforms\\qwindows.dll", ("platforms", "qwindows")),
        (f"{QT}/plugins/wayland-decoration-client/libbradient.so", ("wayland-decoration-client", "bradient")),
        (f"{QT}/lib/libQt6Gui.so.6", None),
    ],
)
def test_qt_plugin(dest: str, plugin: tuple[str, str] | None) -> None:
    assert bundle_filter.qt_plugin(dest) == plugin


@pytest.mark.parametrize(
    "dest",
    [
        f"{QT}/lib/libQt6Core.so.6",
        f"{QT}/lib/libQt6Widgets.so.6",
        f"{QT}/lib/libQt6DBus.so.6",
        f"{QT}/lib/libicudata.so.73",
        f"{QT}/plugins/platforms/libqxcb.so",
        f"{QT}/plugins/platforms/libqwayland.so",
        f"{QT}/plugins/platforms/libqoffscreen.so",
        f"{QT}/plugins/platformthemes/libqxdgdesktopportal.so",
        f"{QT}/plugins/platforminputcontexts/libcomposeplatforminputcontextplugin.so",
        f"{QT}/plugins/iconengines/libqsvgicon.so",
        f"{QT}/plugins/networkinformation/libqnetworkmanager.so",
        f"{QT}/plugins/styles/libqmacstyle.dylib",
        "PySide6/plugins/platforms/qwindows.dll",
        "PySide6/plugins/styles/qmodernwindowsstyle.dll",
        "PySide6/QtWidgets.abi3.so",
        "libpython3.11.so.1.0",
    ],
)
def test_kept(dest: str) -> None:
    assert keep_entry(binary(dest), "linux")


@pytest.mark.parametrize(
    "dest",
    [
        f"{QT}/lib/libQt6Quick.so.6",
        f"{QT}/lib/libQt6Qml.so.6",
        f"{QT}/lib/libQt6EglFSDeviceIntegration.so.6",
        f"{QT}/lib/QtQuick.framework/Versions/A/QtQuick",
        "PySide6/Qt6Pdf.dll",
        f"{QT}/plugins/platforms/libqeglfs.so",
        f"{QT}/plugins/platforms/libqvnc.so",
        f"{QT}/plugins/platformthemes/libqgtk3.so",
        f"{QT}/plugins/tls/libqopensslbackend.so",
        f"{QT}/plugins/sqldrivers/libqsqlite.so",
        f"{QT}/plugins/imageformats/libqtiff.so",
        f"{QT}/plugins/wayland-shell-integration/libivi-shell.so",
        f"{QT}/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so",
        f"{QT}/translations/qtbase_de.qm",
        "PySide6/translations/qtbase_fr.qm",
        "PySide6/opengl32sw.dll",
    ],
)
def test_dropped(dest: str) -> None:
    assert not keep_entry(binary(dest), "linux")
    assert not keep_entry(binary(dest), "win32")


def test_distribution_libraries_are_left_to_the_deb_on_linux_only() -> None:
    system_lib = ("libxkbcommon.so.0", "/lib/x86_64-linux-gnu/libxkbcommon.so.0", "BINARY")
    assert not keep_entry(system_lib, "linux")
    assert keep_entry(system_lib, "darwin")


def test_distribution_python_files_stay_in_the_bundle() -> None:
    libpython = ("libpython3.11.so.1.0", "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0", "BINARY")
    extension = (
        "python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so",
        "/usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so",
        "EXTENSION",
    )
    assert keep_entry(libpython, "linux")
    assert keep_entry(extension, "linux")


def test_prune_drops_symlinks_whose_target_was_dropped() -> None:
    entries = [
        binary(f"{QT}/lib/libQt6Gui.so.6"),
        binary(f"{QT}/lib/libQt6Quick.so.6"),
        ("libQt6Gui.so.6", f"{QT}/lib/libQt6Gui.so.6", "SYMLINK"),
        ("libQt6Quick.so.6", f"{QT}/lib/libQt6Quick.so.6", "SYMLINK"),
        ("PySide6/Qt/lib/alias.so", "libQt6Gui.so.6", "SYMLINK"),
    ]
    kept = [entry[0] for entry in prune(entries, "linux")]
    assert kept == [f"{QT}/lib/libQt6Gui.so.6", "libQt6Gui.so.6", "PySide6/Qt/lib/alias.so"]


# --- the policy against the PySide6 actually installed ---

PYSIDE6_DIR = Path(__import__("PySide6").__file__).parent


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="checks the Linux wheel's file names")
def test_kept_linux_plugins_exist_in_the_installed_pyside6() -> None:
    # A PySide6 update that renames a plugin would otherwise silently drop it from the bundle.
    plugins = PYSIDE6_DIR / "Qt" / "plugins"
    expected = [
        "platforms/libqxcb.so",
        "platforms/libqwayland.so",
        "platforms/libqoffscreen.so",
        "platformthemes/libqxdgdesktopportal.so",
        "platforminputcontexts/libcomposeplatforminputcontextplugin.so",
        "platforminputcontexts/libibusplatforminputcontextplugin.so",
        "imageformats/libqsvg.so",
        "iconengines/libqsvgicon.so",
        "wayland-shell-integration/libxdg-shell.so",
    ]
    for relative in expected:
        assert (plugins / relative).exists(), relative
        assert keep_entry(binary(f"{QT}/plugins/{relative}"), "linux"), relative


def _needed(path: Path) -> list[str]:
    command = ["readelf", "-d", "--wide", str(path)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", output)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux ELF files")
@pytest.mark.needs_tools("readelf", package="binutils")
def test_every_qt_library_a_kept_plugin_or_binding_links_is_kept() -> None:
    """Follow DT_NEEDED from the kept plugins and bindings: no kept file may need a dropped Qt library."""
    qt_dir = PYSIDE6_DIR / "Qt"
    kept_files = [
        path
        for path in list((qt_dir / "plugins").rglob("*.so"))
        + [PYSIDE6_DIR / f"Qt{name}.abi3.so" for name in ("Core", "Gui", "Widgets", "Network", "DBus")]
        if keep_entry(binary("PySide6/" + str(path.relative_to(PYSIDE6_DIR))), "linux")
    ]
    assert len(kept_files) > 10
    pending = list(kept_files)
    seen: set[str] = set()
    while pending:
        current = pending.pop()
        for soname in _needed(current):
            module = bundle_filter.qt_library_module(f"{QT}/lib/{soname}")
            if module is None or soname in seen:
                continue
            seen.add(soname)
            assert module in bundle_filter.KEPT_QT_LIBRARIES, f"{current.name} needs dropped {soname}"
            pending.append(qt_dir / "lib" / soname)
    assert {"libQt6Core.so.6", "libQt6Gui.so.6", "libQt6XcbQpa.so.6"} <= seen


# --- the spec file, executed against stand-ins for PyInstaller's build classes ---


class Recorder:
    """Stand-in for Analysis/PYZ/EXE/COLLECT/BUNDLE: remembers its arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs
        # Analysis attributes the spec reads and rewrites.
        self.binaries = [binary(f"{QT}/lib/libQt6Quick.so.6"), binary(f"{QT}/lib/libQt6Gui.so.6")]
        self.datas = [binary(f"{QT}/translations/qtbase_de.qm")]
        self.pure: list[Any] = []
        self.scripts: list[Any] = []


def run_spec(platform: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    made: dict[str, list[Recorder]] = {}

    def factory(kind: str) -> type:
        class Kind(Recorder):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                made.setdefault(kind, []).append(self)

        return Kind

    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_data_files = lambda package: [(f"/src/{package}/data.txt", package)]  # type: ignore[attr-defined]
    for name in ("PyInstaller", "PyInstaller.utils"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)
    monkeypatch.setattr(sys, "platform", platform)
    namespace: dict[str, Any] = {
        "SPECPATH": str(SPEC.parent),
        "workpath": str(tmp_path),
        **{kind: factory(kind) for kind in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")},
    }
    exec(compile(SPEC.read_text(), str(SPEC), "exec"), namespace)
    return made


def test_spec_makes_two_executables_in_one_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    made = run_spec("linux", monkeypatch, tmp_path)
    names = [exe.kwargs["name"] for exe in made["EXE"]]
    assert names == ["nightshift", "nightshift-runner"]
    assert all(exe.kwargs["exclude_binaries"] for exe in made["EXE"]), "onedir: binaries belong to COLLECT"
    (collect,) = made["COLLECT"]
    assert collect.kwargs["name"] == "nightshift"
    assert [arg for arg in collect.args if isinstance(arg, Recorder)] == made["EXE"]
    assert "BUNDLE" not in made
    assert all(exe.kwargs["icon"] is None for exe in made["EXE"]), "Linux executables carry no icon"


def test_spec_analyses_exclude_other_bindings_and_include_resources(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made = run_spec("linux", monkeypatch, tmp_path)
    gui, runner = made["Analysis"]
    assert gui.args[0][0].endswith("launchers/nightshift.py")
    assert runner.args[0][0].endswith("launchers/nightshift_runner.py")
    for analysis in (gui, runner):
        assert {"PyQt5", "PyQt6", "PySide2"} <= set(analysis.kwargs["excludes"])
        assert str(REPO) in analysis.kwargs["pathex"]
        # The spec pruned what the (fake) hooks collected.
        assert analysis.binaries == [binary(f"{QT}/lib/libQt6Gui.so.6")]
        assert analysis.datas == []
    assert "PySide6" in runner.kwargs["excludes"]
    assert (str(REPO / "resources"), "resources") in gui.kwargs["datas"]


def test_spec_builds_a_macos_app_with_icon_and_version(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made = run_spec("darwin", monkeypatch, tmp_path)
    (app,) = made["BUNDLE"]
    assert app.kwargs["name"] == "Nightshift.app"
    assert app.kwargs["bundle_identifier"] == project_info.BUNDLE_ID
    assert app.kwargs["version"] == project_info.read_version()
    assert Path(app.kwargs["icon"]).suffix == ".icns" and Path(app.kwargs["icon"]).exists()
    assert app.kwargs["info_plist"]["CFBundleExecutable"] == made["EXE"][0].kwargs["name"]
    assert made["EXE"][0].kwargs["console"] is False


def test_spec_gives_windows_executables_icon_and_version_resource(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made = run_spec("win32", monkeypatch, tmp_path)
    gui, runner = made["EXE"]
    assert gui.kwargs["console"] is False, "no console window behind the GUI"
    assert runner.kwargs["console"] is True
    for exe in (gui, runner):
        assert Path(exe.kwargs["icon"]).suffix == ".ico" and Path(exe.kwargs["icon"]).exists()
        resource = Path(exe.kwargs["version"]).read_text()
        assert f"'{exe.kwargs['name']}.exe'" in resource
        assert f"StringStruct('ProductVersion', '{project_info.read_version()}')" in resource
