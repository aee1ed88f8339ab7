"""Helpers for the W&B compatibility suite: run one W&B-style program through either door
and read what it recorded back through the real `wbrun runs ... --format json`.

Doors:
- "wrapped": the program's own `import wandb`, run under `wbrun -- python prog.py`;
- "alone": the same program with `import wandb` rewritten to `import wandb_cli as wandb`,
  run by plain Python.
Both run with a poisoned `wandb` on PYTHONPATH (a package whose import fails), so a test
passes only if the real W&B SDK installed on this machine is never imported.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOORS = ("wrapped", "alone")


def poisoned_wandb(tmp_path: Path) -> Path:
    folder = tmp_path / "poison"
    (folder / "wandb").mkdir(parents=True, exist_ok=True)
    (folder / "wandb" / "__init__.py").write_text(
        "raise ImportError('the real wandb was imported: wbrun should have answered')\n")
    return folder


def program_env(tmp_path: Path, extra: dict | None = None) -> dict:
    paths = [str(REPO), str(poisoned_wandb(tmp_path))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "WBRUN_SYSTEM": "0",
            **(extra or {})}


def run_program(tmp_path: Path, door: str, code: str, *wbrun_args: str, env: dict | None = None,
                check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `code` (written with `import wandb`) through `door`; returns the process."""
    source = textwrap.dedent(code)
    if door == "alone":
        source = source.replace("import wandb\n", "import wandb_cli as wandb\n")
    path = tmp_path / "work" / "prog.py"
    path.write_text(source)
    if door == "wrapped":
        argv = [sys.executable, "-m", "wandb_cli", *wbrun_args, "--", sys.executable, str(path)]
    else:
        argv = [sys.executable, str(path)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                            env=program_env(tmp_path, env))
    if check:
        assert result.returncode == 0, (result.stdout, result.stderr)
    return result


def wbrun_json(*args: str):
    result = subprocess.run([sys.executable, "-m", "wandb_cli", *args, "--format", "json"],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def runs(*extra: str) -> list[dict]:
    return wbrun_json("runs", "ls", *extra)


def show(ref: str) -> dict:
    return wbrun_json("runs", "show", ref)


def history(ref: str) -> list[dict]:
    return wbrun_json("runs", "history", ref)


def metrics_only(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]
