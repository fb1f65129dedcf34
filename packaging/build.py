"""Build Nightshift's installer for this platform and smoke-test what it installs.

    python3 packaging/build.py linux     # bundle -> .deb -> unpacked into a temporary root -> smoke test
    python3 packaging/build.py macos     # bundle -> Nightshift.app -> .dmg -> smoke test from the image
    python3 packaging/build.py windows   # bundle -> Inno Setup installer -> silent install -> smoke test

Steps: a build virtualenv (packaging/out/venv, reused between runs) gets PyInstaller and the project;
PyInstaller runs packaging/nightshift.spec; the platform recipe packages the bundle; the installed copy runs
``nightshift --smoke-test`` and ``nightshift-runner --help`` with no Python reachable; sizes, start-up times
and step durations are printed and written to packaging/out/build-report.json. Exit status 0: all passed.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PACKAGING = Path(__file__).resolve().parent
sys.path.insert(0, str(PACKAGING))

import icons  # noqa: E402
import project_info  # noqa: E402

ROOT = project_info.ROOT
SPEC = PACKAGING / "nightshift.spec"
DEFAULT_OUT = PACKAGING / "out"
PYINSTALLER_REQUIREMENT = "pyinstaller>=6.10,<7"
SMOKE_TIMEOUT_S = 180
MIB = 1024 * 1024
# Output that means the packaged app is broken even if it exited 0 (missing modules, plugins, libraries).
BAD_OUTPUT_MARKERS = (
    "Traceback (most recent call last)",
    "ModuleNotFoundError",
    "ImportError",
    "Cannot load library",
    "Could not load the Qt platform plugin",
    "Fontconfig error",
    "error while loading shared libraries",
)


@dataclass
class Report:
    platform: str
    version: str
    steps_s: dict[str, float] = field(default_factory=dict)
    sizes_mib: dict[str, float] = field(default_factory=dict)
    timings_s: dict[str, dict[str, object]] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        print(f"==> {name}", flush=True)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.steps_s[name] = round(time.perf_counter() - started, 1)
            print(f"    {name}: {self.steps_s[name]:.1f} s", flush=True)


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    print("    $ " + " ".join(str(part) for part in command), flush=True)
    return subprocess.run(command, check=True, text=True, **kwargs)  # type: ignore[call-overload]


def venv_python(venv: Path) -> Path:
    if sys.platform == "win32":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def project_dependencies() -> list[str]:
    """Runtime requirements from pyproject.toml (the spec takes the project's own code from the checkout)."""
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return list(tomllib.load(handle)["project"]["dependencies"])


def prepare_venv(venv: Path, base_python: str) -> Path:
    """Create (or reuse) the build virtualenv and install PyInstaller plus the app's dependencies into it."""
    python = venv_python(venv)
    if not python.exists():
        run([base_python, "-m", "venv", str(venv)])
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*pip, PYINSTALLER_REQUIREMENT, *project_dependencies()])
    return python


def run_pyinstaller(python: Path, out: Path) -> Path:
    dist = out / "dist"
    run(
        [
            str(python),
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(dist),
            "--workpath",
            str(out / "work"),
            str(SPEC),
        ]
    )
    return dist


def tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def mib(size: int) -> float:
    return round(size / MIB, 1)


@dataclass
class Invocation:
    """How to start one installed executable."""

    command: list[str]
    env: dict[str, str]


def check_output_clean(name: str, result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    bad = [marker for marker in BAD_OUTPUT_MARKERS if marker in output]
    if result.returncode != 0 or bad:
        raise SystemExit(
            f"SMOKE TEST FAILED: {name} exited {result.returncode}"
            + (f", output contains {bad}" if bad else "")
            + f"\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )


def timed_runs(
    name: str, invocation: Invocation, runs: int, before_each: Callable[[], None] | None = None
) -> dict[str, object]:
    """Run ``invocation`` ``runs`` times, check each run, return wall-clock figures in seconds."""
    durations = []
    for index in range(runs):
        if before_each is not None:
            before_each()
        started = time.perf_counter()
        result = subprocess.run(
            invocation.command, env=invocation.env, capture_output=True, text=True, timeout=SMOKE_TIMEOUT_S
        )
        durations.append(time.perf_counter() - started)
        check_output_clean(name, result)
        if index == 0:
            shown = (result.stdout + result.stderr).strip()
            print(f"    {name} output (run 1):\n" + "\n".join("      " + line for line in shown.splitlines()))
    figures: dict[str, object] = {
        "runs": [round(d, 3) for d in durations],
        "median": round(statistics.median(durations), 3),
    }
    print(f"    {name}: median {figures['median']} s over {runs} runs {figures['runs']}", flush=True)
    return figures


def smoke_and_time(
    report: Report,
    gui: Invocation,
    runner: Invocation,
    runs: int,
    drop_caches: Callable[[], None] | None = None,
) -> None:
    if drop_caches is not None:
        report.timings_s["nightshift --smoke-test (cold: page cache dropped)"] = timed_runs(
            "nightshift --smoke-test [cold]", gui, min(runs, 3), before_each=drop_caches
        )
    report.timings_s["nightshift --smoke-test"] = timed_runs("nightshift --smoke-test", gui, runs)
    with xvfb_display() as display:
        if display is not None:
            # offscreen proves the app; xcb on a real X server also proves the libraries the .deb depends on.
            x11_env = {key: value for key, value in gui.env.items() if key != "QT_QPA_PLATFORM"}
            x11_env["DISPLAY"] = display
            report.timings_s["nightshift --smoke-test (xcb, Xvfb)"] = timed_runs(
                "nightshift --smoke-test [xcb on Xvfb]", Invocation(gui.command, x11_env), runs
            )
        elif sys.platform.startswith("linux"):
            report.notes.append("Xvfb not installed: the xcb platform plugin was not exercised")
    with weston_display(gui.env.get("XDG_RUNTIME_DIR", "")) as wayland_display:
        if wayland_display is not None:
            wayland_env = {**gui.env, "QT_QPA_PLATFORM": "wayland", "WAYLAND_DISPLAY": wayland_display}
            report.timings_s["nightshift --smoke-test (wayland, weston)"] = timed_runs(
                "nightshift --smoke-test [wayland on headless weston]", Invocation(gui.command, wayland_env), runs
            )
        elif sys.platform.startswith("linux"):
            report.notes.append("weston not installed: the wayland platform plugin was not exercised")
    runner_figures = timed_runs("nightshift-runner --help", runner, runs)
    report.timings_s["nightshift-runner --help"] = runner_figures
    help_text = subprocess.run(runner.command, env=runner.env, capture_output=True, text=True).stdout
    if "usage" not in help_text.lower():
        raise SystemExit(f"SMOKE TEST FAILED: nightshift-runner --help printed no usage:\n{help_text}")
    # The runner executable has its own, smaller module archive: prove it can really serve, not just parse.
    with tempfile.TemporaryDirectory(prefix="nightshift-runner-data-", ignore_cleanup_errors=True) as data_dir:
        check_runner_serves(runner.command[0], runner.env, Path(data_dir))


def check_runner_serves(runner_exe: str, env: dict[str, str], data_dir: Path) -> None:
    """Start the installed headless runner on a free port, connect to it, stop it with SIGTERM (or kill)."""
    process = subprocess.Popen(
        [runner_exe, "--port", "0", "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first_line: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: first_line.put(stdout.readline()), daemon=True).start()
    try:
        line = first_line.get(timeout=SMOKE_TIMEOUT_S)
        match = re.search(r"ws://([\d.]+):(\d+)", line)
        if match is None:
            raise SystemExit(f"SMOKE TEST FAILED: nightshift-runner printed {line!r}, not its address")
        with socket.create_connection((match.group(1), int(match.group(2))), timeout=10):
            pass
        print(f"    nightshift-runner served on {match.group(0)}", flush=True)
    except queue.Empty:
        raise SystemExit("SMOKE TEST FAILED: nightshift-runner did not report its address") from None
    finally:
        if sys.platform == "win32":
            process.terminate()
        else:
            process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
    if sys.platform != "win32" and process.returncode != 0:
        raise SystemExit(f"SMOKE TEST FAILED: nightshift-runner exited {process.returncode} on SIGTERM:\n{stderr}")


@contextmanager
def xvfb_display() -> Iterator[str | None]:
    """A private X server (Xvfb) for a smoke run on the real xcb platform plugin; None if Xvfb is missing."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None or not sys.platform.startswith("linux"):
        yield None
        return
    server = subprocess.Popen(
        [xvfb, "-displayfd", "1", "-nolisten", "tcp", "-screen", "0", "1280x800x24"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None
    server_stdout = server.stdout
    number: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: number.put(server_stdout.readline().strip()), daemon=True).start()
    try:
        yield f":{number.get(timeout=30)}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextmanager
def weston_display(runtime_dir: str) -> Iterator[str | None]:
    """A headless Wayland compositor (weston) for a smoke run on the wayland plugin; None if weston is missing."""
    weston = shutil.which("weston")
    if weston is None or not sys.platform.startswith("linux"):
        yield None
        return
    socket_name = "nightshift-smoke"
    server = subprocess.Popen(
        [weston, "--backend=headless-backend.so", f"--socket={socket_name}", "--idle-time=0"],
        env={**os.environ, "XDG_RUNTIME_DIR": runtime_dir},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (Path(runtime_dir) / socket_name).exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("weston (headless) did not start")
            time.sleep(0.1)
        yield socket_name
    finally:
        server.terminate()
        server.wait(timeout=30)


def python_free_env(bin_dir: Path, scratch: Path) -> dict[str, str]:
    """A minimal environment whose PATH is only ``bin_dir``; fails if a Python interpreter is reachable."""
    home = scratch / "home"
    runtime = scratch / "runtime"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    env = {
        "PATH": str(bin_dir),
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "QT_QPA_PLATFORM": "offscreen",
        "LANG": "C.UTF-8",
    }
    if sys.platform == "win32":
        # Windows needs these to start any process at all; System32 holds no Python.
        for key in ("SYSTEMROOT", "WINDIR", "TEMP", "TMP", "USERPROFILE", "LOCALAPPDATA", "APPDATA"):
            if key in os.environ:
                env[key] = os.environ[key]
        system32 = Path(os.environ.get("SYSTEMROOT", r"C:\Windows")) / "System32"
        env["PATH"] = os.pathsep.join([str(bin_dir), str(system32)])
    for name in ("python", "python3", f"python3.{sys.version_info.minor}"):
        found = shutil.which(name, path=env["PATH"])
        if found:
            raise SystemExit(f"PATH for the smoke test is not Python-free: {found}")
    return env


def drop_page_cache() -> None:
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def can_drop_page_cache() -> bool:
    try:
        drop_page_cache()
    except OSError:
        return False
    return True


def package_linux(report: Report, bundle: Path, out: Path, runs: int, cold: bool) -> None:
    import deb

    with report.step("deb"):
        package = deb.build_deb(bundle, out, report.version, icons.PNG_DIR, icons.SVG_SOURCE)
    report.artifacts.append(str(package))
    report.sizes_mib["deb"] = mib(package.stat().st_size)
    depends = subprocess.run(
        ["dpkg-deb", "--field", str(package), "Depends"], check=True, capture_output=True, text=True
    ).stdout.strip()
    print(f"    Depends: {depends}")
    report.notes.append(f"Depends: {depends}")
    with (
        report.step("install into temporary root and smoke test"),
        tempfile.TemporaryDirectory(prefix="nightshift-deb-") as scratch,
    ):
        root = Path(scratch) / "root"
        run(["dpkg-deb", "-x", str(package), str(root)])
        report.sizes_mib["installed"] = mib(tree_size(root))
        desktop = root / "usr" / "share" / "applications" / f"{project_info.PACKAGE_NAME}.desktop"
        if shutil.which("desktop-file-validate"):
            run(["desktop-file-validate", str(desktop)])
        bin_dir = root / "usr" / "bin"
        env = python_free_env(bin_dir, Path(scratch))
        print(f"    PATH={env['PATH']} (no python on it)")
        gui = Invocation([project_info.PACKAGE_NAME, "--smoke-test"], env)
        runner = Invocation([project_info.RUNNER_NAME, "--help"], env)
        # subprocess resolves bare names against the child's PATH on POSIX only when given env; be explicit.
        gui.command[0] = str(bin_dir / project_info.PACKAGE_NAME)
        runner.command[0] = str(bin_dir / project_info.RUNNER_NAME)
        drop = drop_page_cache if cold and can_drop_page_cache() else None
        if cold and drop is None:
            report.notes.append("page cache could not be dropped: no cold-start figure")
        smoke_and_time(report, gui, runner, runs, drop)


def package_macos(report: Report, dist: Path, out: Path, runs: int) -> None:
    app = dist / f"{project_info.APP_NAME}.app"
    arch = os.uname().machine
    dmg = out / f"{project_info.APP_NAME}-{report.version}-macos-{arch}.dmg"
    with report.step("dmg"):
        run(["bash", str(PACKAGING / "macos" / "make_dmg.sh"), str(app), report.version, str(dmg)])
    report.artifacts.append(str(dmg))
    report.sizes_mib["app"] = mib(tree_size(app))
    report.sizes_mib["dmg"] = mib(dmg.stat().st_size)
    with (
        report.step("mount dmg and smoke test"),
        tempfile.TemporaryDirectory(prefix="nightshift-dmg-") as scratch,
    ):
        mount = Path(scratch) / "mount"
        mount.mkdir()
        run(["hdiutil", "attach", "-nobrowse", "-readonly", "-mountpoint", str(mount), str(dmg)])
        try:
            macos_dir = mount / f"{project_info.APP_NAME}.app" / "Contents" / "MacOS"
            env = python_free_env(macos_dir, Path(scratch))
            gui = Invocation([str(macos_dir / project_info.PACKAGE_NAME), "--smoke-test"], env)
            runner = Invocation([str(macos_dir / project_info.RUNNER_NAME), "--help"], env)
            smoke_and_time(report, gui, runner, runs)
        finally:
            run(["hdiutil", "detach", str(mount)])


def find_iscc() -> str:
    candidates = [os.environ.get("ISCC", ""), shutil.which("iscc") or "", shutil.which("ISCC") or ""]
    for base in (os.environ.get("ProgramFiles(x86)", ""), os.environ.get("ProgramFiles", "")):
        if base:
            candidates.append(str(Path(base) / "Inno Setup 6" / "ISCC.exe"))
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("Inno Setup's ISCC.exe not found: install Inno Setup 6 or set ISCC=path\\to\\ISCC.exe")


def package_windows(report: Report, bundle: Path, out: Path, runs: int) -> None:
    iscc = find_iscc()
    setup_name = f"{project_info.APP_NAME}-{report.version}-windows-x64-setup"
    with report.step("inno setup"):
        run(
            [
                iscc,
                "/Q",
                f"/DAppVersion={report.version}",
                f"/DWinVersion={project_info.windows_file_version(report.version)}",
                f"/DBundleDir={bundle}",
                f"/DOutputDir={out}",
                f"/DOutputBaseName={setup_name}",
                f"/DRepoRoot={ROOT}",
                str(PACKAGING / "windows" / "nightshift.iss"),
            ]
        )
    installer = out / f"{setup_name}.exe"
    report.artifacts.append(str(installer))
    report.sizes_mib["installer"] = mib(installer.stat().st_size)
    with (
        report.step("silent install, smoke test, uninstall"),
        tempfile.TemporaryDirectory(prefix="nightshift-inst-") as scratch,
    ):
        target = Path(scratch) / "app"
        run(
            [
                str(installer),
                "/VERYSILENT",
                "/SUPPRESSMSGBOXES",
                "/NORESTART",
                "/CURRENTUSER",
                f"/DIR={target}",
                f"/LOG={Path(scratch) / 'install.log'}",
            ]
        )
        try:
            env = python_free_env(target, Path(scratch))
            gui = Invocation([str(target / f"{project_info.PACKAGE_NAME}.exe"), "--smoke-test"], env)
            runner = Invocation([str(target / f"{project_info.RUNNER_NAME}.exe"), "--help"], env)
            smoke_and_time(report, gui, runner, runs)
        finally:
            uninstallers = sorted(target.glob("unins*.exe"))
            if uninstallers:
                run([str(uninstallers[0]), "/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART"])
                # The uninstaller re-launches itself from a temporary copy and returns at once: wait for it.
                deadline = time.monotonic() + 120
                while (target / f"{project_info.PACKAGE_NAME}.exe").exists() and time.monotonic() < deadline:
                    time.sleep(1)
                if (target / f"{project_info.PACKAGE_NAME}.exe").exists():
                    raise SystemExit("the uninstaller left nightshift.exe behind")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("platform", choices=["linux", "macos", "windows"])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default packaging/out)")
    parser.add_argument("--venv", type=Path, help="build virtualenv (default OUT/venv; created if missing)")
    parser.add_argument("--python", default=sys.executable, help="interpreter that creates the build virtualenv")
    parser.add_argument(
        "--no-venv",
        action="store_true",
        help="use the running interpreter as is (it needs PyInstaller and the app's dependencies)",
    )
    parser.add_argument("--skip-pyinstaller", action="store_true", help="reuse OUT/dist from an earlier run")
    parser.add_argument("--runs", type=int, default=5, help="timed smoke-test runs (median reported)")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="Linux, as root: also time runs after dropping the page cache (slows other work)",
    )
    args = parser.parse_args(argv)

    expected = {"linux": "linux", "macos": "darwin", "windows": "win32"}[args.platform]
    if not sys.platform.startswith(expected):
        parser.error(f"{args.platform} packages are built on {args.platform} (this is {sys.platform})")

    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    report = Report(platform=args.platform, version=project_info.read_version())
    started = time.perf_counter()

    if args.no_venv:
        python = Path(sys.executable)
    else:
        with report.step("build venv"):
            python = prepare_venv((args.venv or out / "venv").resolve(), args.python)
    dist = out / "dist"
    if not args.skip_pyinstaller:
        with report.step("pyinstaller"):
            dist = run_pyinstaller(python, out)
    bundle = dist / project_info.PACKAGE_NAME
    report.sizes_mib["bundle"] = mib(tree_size(bundle))

    if args.platform == "linux":
        package_linux(report, bundle, out, args.runs, args.cold)
    elif args.platform == "macos":
        package_macos(report, dist, out, args.runs)
    else:
        package_windows(report, bundle, out, args.runs)

    report.steps_s["total"] = round(time.perf_counter() - started, 1)
    (out / "build-report.json").write_text(json.dumps(report.__dict__, indent=2) + "\n")
    print("\n==> summary")
    print(f"    version {report.version}, artifacts: {', '.join(report.artifacts)}")
    print("    sizes (MiB): " + ", ".join(f"{key} {value}" for key, value in report.sizes_mib.items()))
    for name, figures in report.timings_s.items():
        print(f"    {name}: median {figures['median']} s")
    print("    steps (s): " + ", ".join(f"{key} {value}" for key, value in report.steps_s.items()))
    for note in report.notes:
        print(f"    note: {note}")
    print("    SMOKE TEST PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
