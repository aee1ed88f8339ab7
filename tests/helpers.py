"""Helpers shared by the test files: run builders, run records, a real pseudo-terminal.

The builders write runs in-process through the real recorder (quicker than a child process
per run); the commands under test still run as real `wbrun` processes.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

from wandb_cli.store.layout import Store
from wandb_cli.store.model import RunRecord
from wandb_cli.store.recorder import RunSpec, start_run


class Clock:
    """A settable clock for the store, so times in a test are exact."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def record_run(root: Path | Store, *, metrics: Iterable[dict] = ({"loss": 1.0},),
               state: str = "finished", clock: Clock | None = None, seconds: float | None = None,
               recorder: str = "test", **spec) -> str:
    """One run written by the real recorder; returns its ID.

    `spec` is RunSpec's fields (id, name, project, config, tags, group...).  With a `clock`,
    each metrics row advances it by a second and the run ends `seconds` after it started.
    `state` "running" leaves the run live (recorded by this process)."""
    # the clock also stands for the monotonic one: runtime and _runtime are measured on it
    store = root if isinstance(root, Store) else \
        Store(root, clock=clock, monotonic=clock) if clock else Store(root)
    start = clock.now if clock else None
    live = start_run(store, RunSpec(**spec), pid=os.getpid(), recorder=recorder)
    for row in metrics:
        if clock:
            clock.now += 1
        live.log(row)
    live.flush_summary()
    if clock and start is not None and seconds is not None:
        clock.now = start + seconds
    if state != "running":
        live.finish(state, 0 if state == "finished" else 1)
    return live.id


def record_runs(root: Path | Store, ids: Sequence[str], **kwargs) -> list[str]:
    return [record_run(root, id=run_id, **kwargs) for run_id in ids]


def make_record(run_id: str, **fields) -> RunRecord:
    """A RunRecord for the pure (no I/O) query and table tests."""
    values = dict(id=run_id, name=f"run-{run_id}", project="proj", entity="me",
                  state="finished", created=1_793_491_200.0, dir=f"/store/{run_id}")
    values.update(fields)
    return RunRecord(**values)  # type: ignore[arg-type]


def only_run(runs_json) -> dict:
    runs = runs_json()
    assert len(runs) == 1, runs
    return runs[0]


def pid_running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


class PtyProcess:
    """A real program on a real pseudo-terminal: read what it shows, type at it, wait for it."""

    def __init__(self, argv: Sequence[str], *, env: dict | None = None):
        import pty

        self.output = b""
        self.pid, self.master = pty.fork()
        if self.pid == 0:  # pragma: no cover - the child execs
            if env is not None:
                os.execve(argv[0], list(argv), env)
            os.execv(argv[0], list(argv))

    def read_until(self, done: bytes | Callable[[bytes], bool], timeout: float = 20) -> bool:
        """Read until `done` is in the output (or done(output)), the end, or the timeout."""
        test = done if callable(done) else (lambda out: done in out)
        deadline = time.monotonic() + timeout
        while not test(self.output) and time.monotonic() < deadline:
            if not self._read_some(deadline):
                break
        return test(self.output)

    def read_to_end(self, timeout: float = 20) -> bytes:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read_some(deadline):
            pass
        return self.output

    def _read_some(self, deadline: float) -> bool:
        import select

        ready, _, _ = select.select([self.master], [], [], max(0.0, min(0.5, deadline - time.monotonic())))
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: every holder of the terminal closed it
            return False
        self.output += chunk
        return bool(chunk)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait(self, timeout: float = 30) -> int:
        """The exit code (as the shell shows it); killed with SIGKILL after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                _, status = os.waitpid(self.pid, 0)
                break
            self.read_to_end(timeout=0.1)
        self.read_to_end(timeout=2)  # what it wrote before it ended
        os.close(self.master)
        return os.waitstatus_to_exitcode(status)


def python_argv(*args: str) -> list[str]:
    return [sys.executable, *args]


# The peak RSS of the wbrun process itself, read from its own /proc at exit.  (wait4's
# ru_maxrss would not do: at exec the kernel folds the forking parent's high-water mark into
# the child's, so a big pytest process made every child look big.)
PEAK_PROBE = """
import atexit, sys
def report():
    with open("/proc/self/status") as status, open(sys.argv[1], "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM:")).split()[1])
atexit.register(report)
from wandb_cli.cli import main
main(sys.argv[2:])
"""
