"""The system sampler of an SDK-only run, in a process of its own.

Why a process: a sampler thread inside the training process competes for the GIL with a
busy Python training loop (NVML sampling is dozens of short C calls, each waiting up to the
5 ms switch interval to get the GIL back), which both slows the loop and starves the
sampler.  W&B keeps its monitor out of process for the same reason.

Invariant: the sampler ends when told to (a line on its stdin), taking the final sample,
or when the training process is gone (its stdin reaches EOF), so it never outlives the run;
it never counts itself in the run's process tree.

    python -m wandb_cli.runner.sampler RUN_DIR ROOT_PID INTERVAL_S
"""
from __future__ import annotations

import os
import select
import sys
from typing import TYPE_CHECKING, Mapping

from wandb_cli.errors import UsageError

if TYPE_CHECKING:
    from wandb_cli.store.recorder import LiveRun

DEFAULT_SYSTEM_INTERVAL_S = 15.0
MIN_SYSTEM_INTERVAL_S = 0.1


def main(argv: list[str]) -> int:
    run_dir, root_pid, interval = argv[0], int(argv[1]), float(argv[2])
    from wandb_cli.store.recorder import attach
    from wandb_cli.sysmetrics.host import SystemSampler

    live = attach(run_dir)
    sampler = SystemSampler(root_pid, exclude_pids={os.getpid()})
    _emit(live, sampler)
    while True:
        ready, _, _ = select.select([sys.stdin.fileno()], [], [], interval)
        if ready:
            os.read(sys.stdin.fileno(), 4096)  # "stop", or b"" when the run's process died
            break
        _emit(live, sampler)
    _emit(live, sampler)
    sampler.close()
    return 0


def _emit(live, sampler) -> None:
    try:
        live.append_event(sampler.sample())
    except Exception:
        pass


class SamplerProcess:
    """The handle the SDK keeps: `.stop()` asks for the final sample and waits for it."""

    def __init__(self, run_dir: str, root_pid: int, interval_s: float):
        import subprocess

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wandb_cli.runner.sampler", run_dir, str(root_pid), str(interval_s)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True)  # Ctrl+C belongs to the program, not us

    def stop(self, timeout_s: float = 5.0) -> None:
        assert self.proc.stdin is not None  # opened with stdin=PIPE
        try:
            self.proc.stdin.write(b"stop\n")
            self.proc.stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            pass
        try:
            self.proc.wait(timeout_s)
        except Exception:
            self.proc.kill()



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
