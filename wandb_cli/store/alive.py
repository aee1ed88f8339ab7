"""Whether a run's recorder is alive, told by a lock it holds for its whole life.

The recorder of a run (the wrapper, or the SDK in a program started without wbrun) holds an
exclusive flock on `<run dir>/.alive` from before the run reads as running until after its
end is written; the kernel drops the lock when the process dies, however it dies.  A reader
tries a shared lock without waiting:

- the lock is held: the recorder is alive, on this host or (where the file system passes
  locks between hosts) on another, whatever the clocks or pids say;
- the lock is free and the run was recorded under this kernel (same boot ID: the same
  machine, any container or pid namespace on it): the recorder is gone, for certain;
- anything else (no `.alive` in a run written by an older wbrun, a lock free on a file
  system whose locks are node-local, an unreadable file): the lock cannot tell, and the
  caller falls back to pids and heartbeats, treating the answer as uncertain.

Invariant: the lock's file descriptor is never inherited by a child process (O_CLOEXEC), so
a background job of the wrapped command cannot keep a finished run looking alive; the lock
is released explicitly (LOCK_UN) at the end, so a forked copy of the recorder cannot either.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from wandb_cli.errors import RunExists, StoreError

ALIVE = ".alive"
HELD, FREE, UNKNOWN = "held", "free", "unknown"
_BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"
_boot_id: str | None = None


def boot_id() -> str | None:
    """This kernel's boot ID (Linux): the same in every container and pid namespace of one
    machine, different on another machine or after a reboot.  None where there is none."""
    global _boot_id
    if _boot_id is None:
        try:
            with open(_BOOT_ID_PATH, encoding="ascii") as fh:
                _boot_id = fh.read().strip()
        except OSError:
            _boot_id = ""
    return _boot_id or None


def probe(run_dir: str | os.PathLike) -> str:
    """HELD, FREE or UNKNOWN (see the module docstring), without waiting."""
    try:
        import fcntl
    except ImportError:
        return UNKNOWN
    try:
        fd = os.open(Path(run_dir) / ALIVE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return UNKNOWN
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return HELD
    except OSError:
        return UNKNOWN
    finally:
        os.close(fd)  # also drops our shared lock, if we got it
    return FREE


def flock_within(fd: int, seconds: float, *, max_delay: float = 0.05) -> bool:
    """Take an exclusive flock(2) on `fd`, polling (1 ms, doubling up to `max_delay`) for up to
    `seconds`; False if it is still held elsewhere then.  POSIX only (fcntl)."""
    import fcntl

    deadline = time.monotonic() + seconds
    delay = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, max_delay)


class AliveLock:
    """The recorder's side: take the lock (refused while another recorder holds it), hold it
    for the run's life, release it after the end is written."""

    def __init__(self, run_dir: str | os.PathLike):
        self.path = Path(run_dir) / ALIVE
        self._fd: int | None = None

    def acquire(self, run_id: str, wait_s: float = 1.0) -> AliveLock:
        """Take the lock; RunExists if a live recorder holds it.  Waits up to `wait_s` for a
        reader's momentary shared lock to go."""
        try:
            import fcntl  # noqa: F401  (POSIX only: elsewhere no lock)
        except ImportError:
            return self
        from wandb_cli.store import jsonio

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, jsonio.FILE_MODE)
        except OSError as exc:
            raise StoreError(f"cannot open {self.path}: {exc.strerror}") from None
        jsonio.share_like_parent(self.path, fd)
        if not flock_within(fd, wait_s, max_delay=0.02):
            os.close(fd)
            raise RunExists(f"run {run_id!r} is still running (its recorder holds {self.path})")
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        import fcntl

        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
