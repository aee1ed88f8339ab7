"""Shared fixtures: every test gets its own store and a quiet, fixed-width environment,
and `wbrun` runs the real entry point in a subprocess."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

# A test run started in the background of a non-interactive shell (`nohup pytest &`, some CI
# runners) inherits SIGINT ignored, and so would every program the tests start: Python then
# never raises KeyboardInterrupt, and the Ctrl+C and `runs stop` tests see a program that
# cannot be interrupted (found running the suite beside a CPU hog started that way).  A
# caught signal is reset to its default in exec'd children, so catching it here restores
# what a terminal gives them.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


@pytest.fixture(autouse=True)
def isolated_store(tmp_path, monkeypatch):
    """Each test: its own working directory and store, NO_COLOR, a fixed terminal width."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    store = work / "wandb"
    monkeypatch.setenv("WBRUN_DIR", str(store))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("WBRUN_SYSTEM_INTERVAL", "15")
    for name in ("WBRUN_RUN_DIR", "WBRUN_RUN_ID", "WBRUN_MODE", "WANDB_MODE", "WBRUN_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    return store


@pytest.fixture
def store_dir(isolated_store) -> Path:
    return isolated_store


def wbrun_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "wandb_cli", *args]


@pytest.fixture
def wbrun():
    """Run the real `wbrun` and return the CompletedProcess (text mode)."""
    def run(*args: str, input: str | None = None, env: dict | None = None,
            timeout: float = 60, check_code: int | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(wbrun_cmd(*args), capture_output=True, text=True, input=input,
                                env={**os.environ, **(env or {})}, timeout=timeout)
        if check_code is not None:
            assert result.returncode == check_code, (result.stdout, result.stderr)
        return result
    return run


@pytest.fixture
def runs_json(wbrun):
    """The store's runs as `wbrun runs ls --format json` reports them."""
    def read(*extra: str) -> list[dict]:
        result = wbrun("runs", "ls", "--format", "json", *extra, check_code=0)
        return json.loads(result.stdout)
    return read


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def python_script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path
