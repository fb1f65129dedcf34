"""The version has one source; every platform recipe takes names and version from packaging/project_info."""

from __future__ import annotations

import plistlib
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import deb
import project_info
import pytest

import runner

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"


def test_version_is_read_from_runner_package() -> None:
    assert project_info.read_version() == runner.__version__


def test_pyproject_takes_the_version_from_the_same_attribute() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "runner.__version__"}


def test_read_version_parses_without_importing(tmp_path: Path) -> None:
    source = tmp_path / "__init__.py"
    source.write_text('"""doc"""\nimport does_not_exist\n\n__version__ = "2.3.4rc1"\n')
    assert project_info.read_version(source) == "2.3.4rc1"


def test_read_version_fails_loudly_without_assignment(tmp_path: Path) -> None:
    source = tmp_path / "__init__.py"
    source.write_text("VERSION = '1.0'\n")
    with pytest.raises(ValueError, match="__version__"):
        project_info.read_version(source)


def test_no_recipe_hard_codes_the_version() -> None:
    version = project_info.read_version()
    pattern = re.compile(r"(?<![\d.])" + re.escape(version) + r"(?![\d])")
    recipes = [
        PACKAGING / "nightshift.spec",
        PACKAGING / "windows" / "nightshift.iss",
        PACKAGING / "macos" / "make_dmg.sh",
        PACKAGING / "linux" / "nightshift.desktop",
        REPO / ".github" / "workflows" / "packaging.yml",
    ]
    offenders = [path.name for path in recipes if pattern.search(path.read_text())]
    # The .iss and make_dmg.sh mention "0.1.0" only in usage comments; anything else would be a second source.
    for path in recipes:
        for line in path.read_text().splitlines():
            if pattern.search(line):
                assert line.lstrip().startswith((";", "#")), f"{path.name}: {line}"
    assert all(name in {"nightshift.iss", "make_dmg.sh"} for name in offenders), offenders


@pytest.mark.parametrize(
    ("version", "expected"),
    [("0.1.0", "0.1.0.0"), ("1.2", "1.2.0.0"), ("1.2.3rc1", "1.2.3.0"), ("1.2.3.4.5", "1.2.3.4")],
)
def test_windows_file_version_is_four_numbers(version: str, expected: str) -> None:
    assert project_info.windows_file_version(version) == expected


@pytest.mark.parametrize(
    ("version", "expected"),
    [("0.1.0", "0.1.0"), ("1.0rc1", "1.0~rc1"), ("1.0.dev3", "1.0~dev3"), ("2.0b2+local", "2.0~b2+local")],
)
def test_debian_version_spelling(version: str, expected: str) -> None:
    assert deb.debian_version(version) == expected


@pytest.mark.needs_tools("dpkg", package="dpkg")
def test_debian_pre_release_sorts_before_release() -> None:
    older, newer = deb.debian_version("1.0rc1"), deb.debian_version("1.0")
    assert subprocess.run(["dpkg", "--compare-versions", older, "lt", newer]).returncode == 0


def test_macos_info_plist_names_app_executable_and_version() -> None:
    keys = project_info.macos_info_plist("3.4.5")
    plist = plistlib.loads(plistlib.dumps(keys))
    assert plist["CFBundleShortVersionString"] == "3.4.5"
    assert plist["CFBundleVersion"] == "3.4.5"
    assert plist["CFBundleName"] == plist["CFBundleDisplayName"] == "Nightshift"
    assert plist["CFBundleExecutable"] == project_info.PACKAGE_NAME
    assert plist["NSHighResolutionCapable"] is True
    # Otherwise inherited from the runner EXE's console=True: a GUI app without Dock icon or menu bar.
    assert plist["LSBackgroundOnly"] is False


def test_windows_version_resource_names_the_executable() -> None:
    text = project_info.windows_version_resource("1.2.3", "nightshift-runner")
    assert "filevers=(1, 2, 3, 0)" in text
    assert "StringStruct('ProductVersion', '1.2.3')" in text
    assert "StringStruct('OriginalFilename', 'nightshift-runner.exe')" in text
    assert "StringStruct('ProductName', 'Nightshift')" in text


def test_project_info_cli_prints_version() -> None:
    result = subprocess.run(
        ["python3" if shutil.which("python3") else "python", str(PACKAGING / "project_info.py"), "version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == runner.__version__


def test_inno_setup_script_installs_the_bundle_with_start_menu_entry_and_uninstaller() -> None:
    iss = (PACKAGING / "windows" / "nightshift.iss").read_text()
    setup = dict(
        line.split("=", 1)
        for line in iss.split("[Setup]", 1)[1].split("\n[", 1)[0].splitlines()
        if "=" in line and not line.startswith(";")
    )
    assert setup["AppName"] == "{#AppName}"
    assert setup["AppVersion"] == "{#AppVersion}"
    assert setup["UninstallDisplayIcon"] == r"{app}\{#AppExeName}"
    assert setup["SetupIconFile"] == r"{#RepoRoot}\resources\nightshift.ico"
    assert re.search(r'#define AppName "Nightshift"', iss)
    assert re.search(r'#define AppExeName "nightshift\.exe"', iss)
    assert re.search(r'#define RunnerExeName "nightshift-runner\.exe"', iss)
    assert "#error" in iss.split("#ifndef AppVersion", 1)[1].split("#endif", 1)[0]
    icons = iss.split("[Icons]", 1)[1].split("\n[", 1)[0]
    assert r'Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExeName}"' in icons
    assert "{uninstallexe}" in icons
    assert r'Source: "{#BundleDir}\*"' in iss


def test_build_script_passes_every_define_the_inno_script_needs() -> None:
    iss = (PACKAGING / "windows" / "nightshift.iss").read_text()
    required = set(re.findall(r"#ifndef (\w+)", iss))
    build = (PACKAGING / "build.py").read_text()
    passed = set(re.findall(r'"/D(\w+)=', build)) | set(re.findall(r'f"/D(\w+)=', build))
    assert required <= passed, required - passed


def test_workflow_builds_each_platform_on_its_own_runner() -> None:
    workflow = (REPO / ".github" / "workflows" / "packaging.yml").read_text()
    for platform, runner_image in (("linux", "ubuntu-"), ("macos", "macos-"), ("windows", "windows-")):
        job = workflow.split(f"\n  {platform}:\n", 1)[1].split("\n  release:", 1)[0]
        assert f"runs-on: {runner_image}" in job.split("steps:", 1)[0]
        assert f"python packaging/build.py {platform}" in job


@pytest.mark.needs_tools("bash", package="bash")
def test_dmg_script_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(PACKAGING / "macos" / "make_dmg.sh")], check=True)
