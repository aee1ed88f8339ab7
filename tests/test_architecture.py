"""The house rules: the import contract (tests/architecture.py) and what the fast commands load."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from architecture import check

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "wandb_cli"


def test_the_import_contract_holds():
    assert check(PACKAGE) == []


@pytest.fixture
def package_copy(tmp_path) -> Path:
    copy = tmp_path / "wandb_cli"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "static"))
    return copy


def _plant(path: Path, line: str, *, in_function: bool = False) -> None:
    text = path.read_text()
    if in_function:  # a lazy import is a dependency too
        line = f"\n\ndef _planted():\n    {line}\n"
    path.write_text(text + "\n" + line + "\n")


def test_a_planted_cycle_is_reported(package_copy):
    _plant(package_copy / "store" / "layout.py", "from wandb_cli.store import lifecycle", in_function=True)
    problems = check(package_copy)
    assert any(p.startswith("import cycle:") and "wandb_cli.store.layout" in p
               and "wandb_cli.store.lifecycle" in p for p in problems), problems


def test_imports_against_the_direction_are_reported(package_copy):
    _plant(package_copy / "sdk" / "run.py", "from wandb_cli.views import columns")
    _plant(package_copy / "store" / "model.py", "import rich", in_function=True)
    _plant(package_copy / "query" / "parse.py", "import typer")
    problems = check(package_copy)
    assert "wandb_cli.sdk.run imports wandb_cli.views.columns: sdk may not import views" in problems
    assert any(p.startswith("wandb_cli.store.model imports rich") for p in problems)
    assert any(p.startswith("wandb_cli.query.parse imports typer") for p in problems)


def test_type_checking_imports_are_not_dependencies(package_copy):
    _plant(package_copy / "store" / "model.py",
           "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from wandb_cli.views import columns")
    assert check(package_copy) == []


PROBE = """
import atexit, sys
def report():
    heavy = sorted(m for m in ("typer", "click", "rich", "starlette", "uvicorn") if m in sys.modules)
    with open(sys.argv[1], "w") as out:
        out.write(",".join(heavy))
atexit.register(report)
from wandb_cli.cli import main
main(sys.argv[2:])
"""


@pytest.mark.parametrize("args", [
    ["--version"],
    ["-q", "--no-system", "--", "true"],
    ["__complete", "runs", "show", ""],
], ids=["version", "wrap", "complete"])
def test_fast_commands_load_neither_typer_nor_rich(tmp_path, args):
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    seen = tmp_path / "seen.txt"
    subprocess.run([sys.executable, str(probe), str(seen), *args], capture_output=True, timeout=60)
    assert seen.read_text() == ""


def test_wbrun_log_inside_a_run_loads_neither_typer_nor_rich(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    seen = tmp_path / "seen.txt"
    inner = f"{sys.executable} {probe} {seen} log loss=0.5"
    result = subprocess.run([sys.executable, "-m", "wandb_cli", "-q", "--no-system", "--", "sh", "-c", inner],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert seen.read_text() == ""
    shown = subprocess.run([sys.executable, "-m", "wandb_cli", "runs", "history", "latest", "--format", "json"],
                           capture_output=True, text=True, timeout=60)
    assert '"loss": 0.5' in shown.stdout  # the probe really logged: the check above saw a real `wbrun log`
