"""Many stat() calls made by a forked child process on another core, while the caller goes on.

A listing of 100,000 runs stat()s each run's `files/` folder (~5 us each here, the kernel
walking two names) and parses each run's index entry.  Threads cannot overlap the two: a
stat() gives the GIL up and must win it back for every call (tried: slower).  A child
forked for the purpose can: it makes the calls and sends the results down a pipe in chunks,
a pipe's worth ahead of the caller, which takes them in order (100,000 runs: the listing's
scan ~0.4 s shorter here).

The child runs nothing of the parent's: signals are blocked across the fork, the child puts
every signal the parent handles in Python back to its default before they are unblocked (a
Ctrl-C or SIGTERM to the process group ends it, and runs no handler of the program's), it
closes every descriptor but its pipe and the one it stats relative to (it keeps no lock or
socket of the parent's alive), and it leaves by `os._exit` (no exit handler, no flush).
(What a fork itself runs in the child it still runs: hooks registered with
`os.register_at_fork(after_in_child=...)` and C libraries' `pthread_atfork` handlers.)
Whatever it does not send (it failed, was killed, the fork was refused) the caller's own
process stats.
"""
from __future__ import annotations

import os
import signal
import sys
from array import array
from typing import Callable, Generator, Sequence

NONE = -(2 ** 63)  # a result that was None, as the child sends it
CHUNK = 4096  # results a write of the child's, a read of the caller's


def stat_all(names: Sequence[str], stat_one: Callable[[str], int | None], *,
             keep_fd: int | None, forked: bool) -> Generator[int | None, None, None]:
    """`stat_one(name)` for each name, in order (an int, or None); made by a forked child
    when `forked` (see `may_fork`).  `keep_fd`: a descriptor `stat_one` uses, which the
    child keeps open.  Close the generator to stop early (the child is then killed)."""
    child = _start(names, stat_one, keep_fd) if forked else None
    if child is None:
        yield from map(stat_one, names)
        return
    pid, read_end = child
    done = 0
    try:
        with open(read_end, "rb") as pipe:  # (buffered: a read(n) waits for n bytes or the end)
            while done < len(names):
                chunk = pipe.read(8 * min(CHUNK, len(names) - done))
                results = array("q", chunk[:len(chunk) // 8 * 8])
                if not results:
                    break
                done += len(results)
                for result in results:
                    yield None if result == NONE else result
        yield from map(stat_one, names[done:])  # (the child ended early)
    finally:
        _end(pid, stopped_early=done < len(names))


def may_fork() -> bool:
    """Linux only (measured there; macOS warns against a fork without exec), a process of one
    thread, native ones counted (a thread could hold a lock the child would need), and more
    than one usable core."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:
        return False
    return threads == 1 and len(os.sched_getaffinity(0)) > 1


def _start(names: Sequence[str], stat_one: Callable[[str], int | None],
           keep_fd: int | None) -> tuple[int, int] | None:
    """(the child's pid, the pipe's read end), or None where a pipe or the fork is refused."""
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return None
    _widen(write_end, 8 * len(names))
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        pid = os.fork()
    except OSError:
        pid = -1
    if pid == 0:  # the child
        try:
            _detach(write_end, keep_fd)
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            _send(write_end, names, stat_one)
        finally:
            os._exit(0)
    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    os.close(write_end)
    if pid < 0:
        os.close(read_end)
        return None
    return pid, read_end


def _widen(fd: int, wanted: int) -> None:
    """Let the pipe hold `wanted` bytes (up to the system's limit for a pipe), so the child
    need not wait for a caller busy with other work (it may read all results at the end:
    the default 64 KiB held 8,192 of 100,000 runs' results).  Best effort."""
    import fcntl  # (here: the child is forked on Linux only)

    try:
        with open("/proc/sys/fs/pipe-max-size", "rb") as fh:
            size = min(wanted + CHUNK * 8, int(fh.read()))
        if size > fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ):  # (never narrower than it is)
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
    except (OSError, ValueError, AttributeError):
        pass


def _detach(write_end: int, keep_fd: int | None) -> None:
    """In the child, signals still blocked: the parent's Python handlers back to their
    defaults, and every descriptor but the standard three, the pipe and `keep_fd` closed."""
    for signum in signal.valid_signals():
        try:
            if callable(signal.getsignal(signum)):
                signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    for name in os.listdir("/proc/self/fd"):  # (Linux: see may_fork)
        fd = int(name)
        if fd > 2 and fd != write_end and fd != keep_fd:
            try:
                os.close(fd)
            except OSError:
                pass  # (the listing's own descriptor, closed already)


def _send(fd: int, names: Sequence[str], stat_one: Callable[[str], int | None]) -> None:
    for start in range(0, len(names), CHUNK):
        results = array("q", [NONE if result is None else result
                              for result in map(stat_one, names[start:start + CHUNK])])
        view = memoryview(results.tobytes())
        while view:
            view = view[os.write(fd, view):]


def _end(pid: int, *, stopped_early: bool) -> None:
    """Reap the child; kill it first only if the caller stopped early and it is still there
    (a caller's SIGCHLD handler, or SIGCHLD ignored, may have reaped it: its pid could
    then be another process's)."""
    try:
        if stopped_early and os.waitpid(pid, os.WNOHANG) == (0, 0):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:  # ChildProcessError: reaped already
        pass
