"""Timing whole processes: wall time from spawn to reaped exit, and the child's peak RSS.

Invariant: every figure is a median over `reps` timed runs that follow `warmup` untimed
ones, and each process is reaped with wait4, so its peak RSS is its own (not a sibling's).
A run that exits non-zero raises BenchError with its stderr, never yields a figure.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence


class BenchError(RuntimeError):
    """A measured command failed: the figure would be meaningless."""


@dataclass
class Sample:
    """Repeated measurements of one thing (seconds, or any unit the caller names)."""

    values: list[float]
    peak_rss_mb: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.values), max(self.values)

    def as_json(self) -> dict:
        return {"median": self.median, "min": self.spread[0], "max": self.spread[1],
                "values": self.values, "peak_rss_mb": round(self.peak_rss_mb, 1), **self.extra}


def child_env(work: Path, **extra: str) -> dict:
    """The environment of measured children: no inherited run or store, bytecode cached.

    This machine's shell sets PYTHONDONTWRITEBYTECODE=1, which would make every Python start
    recompile its modules; an installed package has its .pyc, so the cache goes to a
    prefix under the work folder (nothing is written into the checkout).
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WBRUN_", "WANDB_", "MLFLOW_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPYCACHEPREFIX=str(work / "pycache"), NO_COLOR="1", COLUMNS="120")
    env.update(extra)
    return env


def run_once(argv: Sequence[str], *, env: dict, cwd: Path | None = None,
             stdout=subprocess.DEVNULL) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in MB, CPU seconds with its reaped children) of one
    process; BenchError if it fails."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=stdout,
                                 stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            err.seek(0)
            message = err.read().decode("utf-8", "replace")[-2000:]
            raise BenchError(f"{' '.join(argv)} exited {child.returncode}: {message}")
    return wall, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime


def measure(argv: Sequence[str], *, env: dict, reps: int, warmup: int = 1,
            cwd: Path | None = None, before: Callable[[], None] | None = None) -> Sample:
    """Median wall time of `argv` over `reps` runs after `warmup`; `before` runs untimed
    ahead of each (e.g. to delete a cache for a first-call measurement)."""
    times, peak = [], 0.0
    for i in range(warmup + reps):
        if before is not None:
            before()
        wall, rss, _ = run_once(argv, env=env, cwd=cwd)
        if i >= warmup:
            times.append(wall)
            peak = max(peak, rss)
    return Sample(times, peak)


def run_json(argv: Sequence[str], *, env: dict, cwd: Path | None = None,
             timeout: float = 900) -> tuple[dict, float]:
    """Run a child that prints one JSON object last; (that object, its wall seconds)."""
    import json

    start = time.perf_counter()
    result = subprocess.run(list(argv), capture_output=True, text=True, env=env, cwd=cwd,
                            timeout=timeout, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr[-2000:]}")
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise BenchError(f"{' '.join(argv)} printed no result: {result.stdout[-500:]}")
    return json.loads(lines[-1]), wall


def python_has(python: str, module: str, env: dict) -> str | None:
    """The installed version of `module` for interpreter `python`, or None (not imported)."""
    code = ("import importlib.util, importlib.metadata as m, sys\n"
            f"spec = importlib.util.find_spec({module!r})\n"
            f"print(m.version({module!r}) if spec else '')")
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env,
                             timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


