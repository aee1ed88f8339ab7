"""Helpers for the media and TensorBoard tests: running a real program alone or under
`wbrun --`, with `import wandb` answered by wandb_cli (as the compatibility package will)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

# A stand-in for the `import wandb` compatibility package (issue 15, item 1) until it lands:
# `wandb.X` is wandb_cli's X, else wandb_cli.media's X (Image, Table, plot, sklearn...).
WANDB_SHIM = '''
import sys, types
import wandb_cli, wandb_cli.media
shim = types.ModuleType("wandb")
def __getattr__(name):
    try:
        return getattr(wandb_cli, name)
    except AttributeError:
        return getattr(wandb_cli.media, name)
shim.__getattr__ = __getattr__
sys.modules["wandb"] = shim
'''


def write_program(tmp_path: Path, body: str, *, name: str = "prog.py", shim: bool = False) -> Path:
    path = tmp_path / name
    path.write_text((WANDB_SHIM if shim else "") + textwrap.dedent(body))
    return path


def run_program(path: Path, *, wrapped: bool = False, args: tuple[str, ...] = (),
                env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `path` with Python, alone or as `wbrun -- python path`; fail loudly if it fails."""
    command = [sys.executable, str(path), *args]
    if wrapped:
        command = [sys.executable, "-m", "wandb_cli", "--", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, "WBRUN_SYSTEM": "0", **(env or {})})
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result


def wbrun_json(*args: str) -> object:
    result = subprocess.run([sys.executable, "-m", "wandb_cli", *args, "--format", "json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def files_dir(run: dict) -> Path:
    return Path(run["dir"]) / "files"
