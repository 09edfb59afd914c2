"""The worker as a package: `--version`, the runtime/dev lock split, and a wheel that builds."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import dspex_worker

PYTHON_DIR = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = PYTHON_DIR / "requirements-runtime.lock"
DEV_LOCK = PYTHON_DIR / "requirements-dev.lock"
DEV_TOOLS = {"pytest", "pytest-asyncio", "ruff", "mypy", "hypothesis", "import-linter", "types-jsonschema"}


def _name(requirement: str) -> str:
    """PEP 503 normalised project name of `name==version` (or `name[extra]==…`, `name>=…`)."""
    raw = re.split(r"[\[=<>!~ ;]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", raw).lower()


def _lock(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", line), f"{path.name}: not an exact pin: {line}"
        pins[_name(line)] = line.split("==", 1)[1]
    return pins


def _pyproject() -> dict[str, object]:
    return tomllib.loads((PYTHON_DIR / "pyproject.toml").read_text())


def test_version_flag_prints_the_package_version() -> None:
    installed = importlib.metadata.version("dspex-worker")
    assert installed == dspex_worker.__version__
    out = subprocess.run(
        [sys.executable, "-m", "dspex_worker", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"dspex-worker {installed}"
    # The console script the runtime starts answers the same.
    script = Path(sys.executable).parent / "dspex-worker"
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert (out.returncode, out.stdout.strip()) == (0, f"dspex-worker {installed}")


def test_runtime_lock_has_no_dev_tools_and_pins_every_dependency() -> None:
    runtime = _lock(RUNTIME_LOCK)
    assert not DEV_TOOLS & runtime.keys(), f"dev tools in the runtime lock: {DEV_TOOLS & runtime.keys()}"
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    for requirement in project["dependencies"]:
        name = _name(requirement)
        assert name in runtime, f"{requirement} (pyproject) missing from {RUNTIME_LOCK.name}"
        assert requirement.replace(" ", "").endswith(f"=={runtime[name]}"), (
            f"pyproject pins {requirement}, {RUNTIME_LOCK.name} has {runtime[name]}"
        )


def test_dev_lock_is_the_runtime_lock_plus_the_dev_tools() -> None:
    runtime, dev = _lock(RUNTIME_LOCK), _lock(DEV_LOCK)
    differing = {name: (pin, dev.get(name)) for name, pin in runtime.items() if dev.get(name) != pin}
    assert not differing, f"runtime pins missing or different in {DEV_LOCK.name}: {differing}"
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    for requirement in project["optional-dependencies"]["dev"]:
        name = _name(requirement)
        pinned = dev.get(name)
        assert requirement.endswith(f"=={pinned}"), f"pyproject pins {requirement}, {DEV_LOCK.name} has {pinned}"
    # Everything the dev lock adds is a dev tool or something only a dev tool needs.
    assert DEV_TOOLS <= dev.keys() - runtime.keys()


def test_a_wheel_builds_with_the_package_and_its_entry_point(tmp_path: Path) -> None:
    # Build from a copy: an in-tree setuptools build would leave build/ and *.egg-info in python/.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PYTHON_DIR / name, src / name)
    shutil.copytree(PYTHON_DIR / "dspex_worker", src / "dspex_worker", ignore=shutil.ignore_patterns("__pycache__"))
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q", str(src),
         "-w", str(tmp_path / "dist")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    if out.returncode != 0:
        pytest.fail(f"pip wheel failed:\n{out.stdout}\n{out.stderr}")
    wheels = list((tmp_path / "dist").glob("dspex_worker-*.whl"))
    assert [w.name for w in wheels] == [f"dspex_worker-{dspex_worker.__version__}-py3-none-any.whl"]
    with zipfile.ZipFile(wheels[0]) as whl:
        names = set(whl.namelist())
        sources = {f"dspex_worker/{p.name}" for p in (PYTHON_DIR / "dspex_worker").glob("*.py")}
        assert sources <= names, f"missing from the wheel: {sources - names}"
        schemas = {f"dspex_worker/schemas/{p.name}" for p in (PYTHON_DIR / "dspex_worker" / "schemas").glob("*.json")}
        assert schemas and schemas <= names, f"schemas missing from the wheel: {schemas - names}"
        assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n]
        info = f"dspex_worker-{dspex_worker.__version__}.dist-info"
        entry_points = whl.read(f"{info}/entry_points.txt").decode()
        assert re.search(r"^dspex-worker = dspex_worker\.cli:main$", entry_points, re.M), entry_points
        metadata = whl.read(f"{info}/METADATA").decode()
    assert f"\nVersion: {dspex_worker.__version__}\n" in metadata
    requires = [line.removeprefix("Requires-Dist: ") for line in metadata.splitlines()
                if line.startswith("Requires-Dist:")]
    unconditional = {_name(r) for r in requires if "extra ==" not in r}
    assert "dspy" in unconditional and not DEV_TOOLS & unconditional, requires
    assert {_name(r) for r in requires if 'extra == "dev"' in r} >= DEV_TOOLS
