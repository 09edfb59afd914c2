"""The package's layers (pyproject.toml, [tool.importlinter]): kept by the package, broken by a violation.

scripts/test.sh runs `lint-imports` in the gate; these show the contracts would catch an upward
import and an import cycle, on a copy of the package with one line added.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}  # the copy shadows the installed package
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _copy(tmp_path: Path) -> Path:
    shutil.copy(PYTHON_DIR / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(PYTHON_DIR / "dspex_worker", tmp_path / "dspex_worker",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_package_keeps_its_layers_and_has_no_import_cycle(tmp_path: Path) -> None:
    out = _lint(_copy(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Contracts: 2 kept, 0 broken." in out.stdout


@pytest.mark.parametrize(("module", "line", "broken"), [
    # the base may not reach up into the worker
    ("errors", "from .worker import Worker  # noqa",
     "dspex_worker.errors is not allowed to import dspex_worker.worker"),
    # messages may not import the DSPy layer above them
    ("protocol", "from .modules import ModuleCache  # noqa",
     "dspex_worker.protocol is not allowed to import dspex_worker.modules"),
    # two modules of one layer importing each other: a cycle
    ("optimize_request", "from .protocol import CONTRACT  # noqa", "No cycles are allowed in dspex_worker."),
])
def test_a_deliberate_violation_breaks_a_contract(tmp_path: Path, module: str, line: str, broken: str) -> None:
    root = _copy(tmp_path)
    path = root / "dspex_worker" / f"{module}.py"
    text = path.read_text()
    anchor = "from __future__ import annotations\n"
    assert anchor in text
    path.write_text(text.replace(anchor, anchor + line + "\n", 1))
    out = _lint(root)
    assert out.returncode != 0
    assert broken in out.stdout, out.stdout
