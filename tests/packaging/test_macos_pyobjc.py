"""macOS sleep/wake needs pyobjc: a dependency there (and only there), and in the bundle. This runs on any
platform: it checks the declarations against what desktop/lifecycle/sources/macos.py actually imports."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
MACOS_SOURCE = REPO / "desktop" / "lifecycle" / "sources" / "macos.py"
SPEC = REPO / "packaging" / "nightshift.spec"

# Top-level modules installed by pyobjc-framework-Cocoa and its dependency pyobjc-core.
PROVIDED_BY_PYOBJC_COCOA = {"objc", "Foundation", "AppKit", "CoreFoundation", "Cocoa", "PyObjCTools"}


def _imported_modules(path: Path) -> set[str]:
    """Every top-level module a file imports, at any depth (the macOS source imports inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _pyobjc_requirement() -> Requirement:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    found = [Requirement(d) for d in deps if Requirement(d).name.lower() == "pyobjc-framework-cocoa"]
    assert len(found) == 1, deps
    return found[0]


def test_pyobjc_is_a_runtime_dependency_on_macos_only() -> None:
    requirement = _pyobjc_requirement()
    assert requirement.marker is not None
    assert requirement.marker.evaluate({"sys_platform": "darwin"})
    assert not requirement.marker.evaluate({"sys_platform": "linux"})
    assert not requirement.marker.evaluate({"sys_platform": "win32"})


def _spec_macos_hidden_imports() -> list[str]:
    tree = ast.parse(SPEC.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "MACOS_HIDDEN_IMPORTS" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError("packaging/nightshift.spec defines no MACOS_HIDDEN_IMPORTS")


def test_the_macos_source_imports_only_what_the_dependency_provides_and_the_bundle_holds() -> None:
    third_party = _imported_modules(MACOS_SOURCE) - {"__future__", "sys", "typing", "desktop"}
    assert third_party == {"objc", "Foundation", "AppKit"}
    assert third_party <= PROVIDED_BY_PYOBJC_COCOA
    assert third_party <= set(_spec_macos_hidden_imports())


def test_the_gui_analysis_uses_the_hidden_imports_on_macos() -> None:
    tree = ast.parse(SPEC.read_text(encoding="utf-8"))
    gui = next(node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
               and any(isinstance(t, ast.Name) and t.id == "gui" for t in node.targets))
    assert isinstance(gui, ast.Call)
    hidden = next(k.value for k in gui.keywords if k.arg == "hiddenimports")
    assert ast.unparse(hidden) == "MACOS_HIDDEN_IMPORTS if IS_MAC else []"
