"""What every suite needs: the interpreters and commands under test, where to write, how
often to repeat, which peers are installed, and a description of the machine.

Invariant: the benchmark writes only under `work` (default /tmp/wbrun-bench), never into
the checkout; a peer that cannot be imported by the peer interpreter is recorded as
missing (with the reason) and its comparisons are skipped, never faked.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.timing import Sample, child_env, measure, python_has

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
PEERS = ("wandb", "mlflow")


@dataclass
class Context:
    reps: int
    warmup: int
    work: Path
    python: str
    wbrun: list[str]
    peer_python: str | None
    steps: int = 20_000
    peers: dict[str, str] = field(default_factory=dict)  # name -> version
    notes: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict:
        return child_env(self.work)

    def time(self, argv, **kwargs) -> Sample:
        return measure(argv, env=kwargs.pop("env", self.env), reps=self.reps,
                       warmup=kwargs.pop("warmup", self.warmup), **kwargs)

    def has(self, peer: str) -> bool:
        return peer in self.peers

    def peer_script(self, name: str) -> str | None:
        """A peer's console script beside the peer interpreter (its venv's bin/)."""
        if self.peer_python is None:
            return None
        beside = Path(self.peer_python).parent / name
        return str(beside) if beside.exists() else None

    def fresh_dir(self, name: str) -> Path:
        path = self.work / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path


def make_context(*, reps: int, warmup: int, work: Path, peer_python: str | None,
                 use_peers: bool, steps: int) -> Context:
    work.mkdir(parents=True, exist_ok=True)
    ctx = Context(reps=reps, warmup=warmup, work=work, python=sys.executable,
                  wbrun=_wbrun_command(), peer_python=None, steps=steps)
    if use_peers:
        _find_peers(ctx, peer_python or sys.executable)
    else:
        ctx.notes.append("peers not measured (--no-peers)")
    return ctx


def _wbrun_command() -> list[str]:
    """The installed `wbrun` console script beside this interpreter, as users run it."""
    beside = Path(sys.executable).parent / "wbrun"
    if beside.exists():
        return [str(beside)]
    return [sys.executable, "-m", "wandb_cli"]


def _find_peers(ctx: Context, python: str) -> None:
    env = child_env(ctx.work)
    for peer in PEERS:
        version = python_has(python, peer, env)
        if version is None:
            ctx.notes.append(f"{peer} is not installed for {python}: its comparisons are skipped "
                             f"(install the `bench` extra, or pass --peer-python)")
        else:
            ctx.peers[peer] = version
    ctx.peer_python = python if ctx.peers else None


def machine() -> dict:
    """The machine and checkout the figures belong to."""
    return {
        "cpu": _cpu_model(), "cores": os.cpu_count(), "memory_gb": _memory_gb(),
        "os": platform.platform(), "python": platform.python_version(),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def filesystem_of(path: Path) -> str:
    """The filesystem type holding `path` (longest matching mount point)."""
    best, kind = "", "unknown"
    try:
        with open("/proc/mounts") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) > 2 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                    best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def file_create_us(folder: Path, count: int = 500) -> float:
    """Microseconds to create one small file in `folder` now: the disk's state, recorded
    because it moves every figure that writes runs (wrap, init)."""
    probe = folder / "create-probe"
    shutil.rmtree(probe, ignore_errors=True)
    probe.mkdir(parents=True)
    start = time.perf_counter()
    for i in range(count):
        fd = os.open(probe / f"f{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.write(fd, b"{}\n")
        os.close(fd)
    elapsed = time.perf_counter() - start
    shutil.rmtree(probe, ignore_errors=True)
    return round(elapsed / count * 1e6, 1)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3, 1)
    except (ValueError, OSError):
        return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None
