"""The system sampler of SDK-only runs, in a process of its own, shared by the runs of a
training process (a sweep of 2,000 short runs in one process starts it once).

Why a process: a sampler thread inside the training process competes for the GIL with a
busy Python training loop (NVML sampling is dozens of short C calls, each waiting up to the
5 ms switch interval to get the GIL back), which both slows the loop and starves the
sampler.  W&B keeps its monitor out of process for the same reason.

Invariant: the sampler samples into one run at a time, told by lines on its stdin:
`run RUN_DIR` (a first sample, then one every interval), `end` (the final sample, then the
end of the program's exit waits for it: finish() itself does not, so a run costs its
program a pipe write, not two samples).  It exits when the training process is gone (its
stdin reaches EOF), taking a final sample of the run it was sampling, so it never outlives
its program; it never counts itself in the process tree it samples.

    python -m wandb_cli.runner.sampler ROOT_PID INTERVAL_S
"""
from __future__ import annotations

import os
import select
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Mapping

from wandb_cli.errors import UsageError

if TYPE_CHECKING:
    from wandb_cli.store.recorder import LiveRun

DEFAULT_SYSTEM_INTERVAL_S = 15.0
MIN_SYSTEM_INTERVAL_S = 0.1


def main(argv: list[str]) -> int:
    root_pid, interval = int(argv[0]), float(argv[1])
    from wandb_cli.sysmetrics.host import SystemSampler

    sampler = SystemSampler(root_pid, exclude_pids={os.getpid()})
    live = None
    pending = b""
    next_at = float("inf")
    while True:
        wait = max(0.0, next_at - time.monotonic()) if live is not None else None
        ready, _, _ = select.select([sys.stdin.fileno()], [], [], wait)
        if not ready:
            _emit(live, sampler)
            next_at = time.monotonic() + interval
            continue
        data = os.read(sys.stdin.fileno(), 65536)
        if not data:  # the training process is gone
            _end(live, sampler)
            break
        pending += data
        *lines, pending = pending.split(b"\n")
        for line in lines:
            live = _command(line, live, sampler)
            next_at = time.monotonic() + interval
    sampler.close()
    return 0


def _command(line: bytes, live, sampler):
    """Obey one stdin line; the run now sampled (None between runs)."""
    from wandb_cli.store.recorder import attach

    if line.startswith(b"run "):
        _end(live, sampler)
        try:
            live = attach(os.fsdecode(line[4:]))
        except Exception:
            return None
        _emit(live, sampler)
        return live
    if line == b"end":
        _end(live, sampler)
        return None
    return live


def _end(live, sampler) -> None:
    if live is None:
        return
    _emit(live, sampler)
    try:
        live.finish("finished", None)  # not the owner: only closes its files
    except Exception:
        pass


def _emit(live, sampler) -> None:
    if live is None:
        return
    try:
        live.append_event(sampler.sample())
    except Exception:
        pass


class _Shared:
    """This process's sampler process, started on first use and kept for later runs."""

    lock = threading.Lock()
    proc: Any = None  # subprocess.Popen, imported only when a sampler starts
    key: tuple = ()


def _sampler_process(root_pid: int, interval_s: float):
    """The shared sampler process for (this pid, interval): started if none is alive (or
    this is a forked child, or the interval changed)."""
    import subprocess

    key = (os.getpid(), root_pid, interval_s)
    proc = _Shared.proc
    if proc is not None and _Shared.key == key and proc.poll() is None:
        return proc
    if proc is not None and _Shared.key[0] == os.getpid():
        _close(proc)
    else:
        import atexit

        atexit.register(_close_at_exit)  # after every run's finish (atexit runs last-in first)
    _Shared.proc = subprocess.Popen(
        [sys.executable, "-m", "wandb_cli.runner.sampler", str(root_pid), str(interval_s)],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True)  # Ctrl+C belongs to the program, not us
    _Shared.key = key
    return _Shared.proc


def _close_at_exit() -> None:
    """The program ends: the sampler writes the last final sample, then exits."""
    with _Shared.lock:
        if _Shared.proc is not None and _Shared.key[0] == os.getpid():
            _close(_Shared.proc)
            _Shared.proc = None


def _close(proc) -> None:
    try:
        proc.stdin.close()
        proc.wait(5)
    except Exception:
        proc.kill()


class SamplerProcess:
    """The handle a run keeps on the shared sampler: `.stop()` asks for the run's final
    sample (written by the time the program exits, usually within milliseconds)."""

    def __init__(self, run_dir: str, root_pid: int, interval_s: float):
        with _Shared.lock:
            self.proc = _sampler_process(root_pid, interval_s)
            self._send(b"run " + os.fsencode(run_dir) + b"\n")

    def _send(self, line: bytes) -> bool:
        try:
            self.proc.stdin.write(line)
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, ValueError, OSError):
            return False

    def stop(self) -> None:
        with _Shared.lock:
            if self.proc is _Shared.proc:
                self._send(b"end\n")


def system_interval(option: float | None, env: Mapping[str, str]) -> float:
    raw = option if option is not None else env.get("WBRUN_SYSTEM_INTERVAL")
    if raw is None or raw == "":
        return DEFAULT_SYSTEM_INTERVAL_S
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"bad system interval {raw!r}: give seconds, at least 0.1") from None
    if not value >= MIN_SYSTEM_INTERVAL_S:
        raise UsageError(f"bad system interval {raw!r}: the minimum is {MIN_SYSTEM_INTERVAL_S}")
    return value


def system_enabled(env: Mapping[str, str]) -> bool:
    """False when WBRUN_SYSTEM turns the sampler off (as --no-system does)."""
    return env.get("WBRUN_SYSTEM", "1") not in ("0", "false", "no", "off")


def start_system_sampler(live: LiveRun, root_pid: int, interval: float):
    """The wrapper's sampler thread for the child's process tree (interval already checked)."""
    try:
        from wandb_cli.sysmetrics import host as sysmetrics
    except ImportError:
        return None
    return sysmetrics.start_sampler(root_pid, live.append_event, interval)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
