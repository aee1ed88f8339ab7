"""Carrying the output of background jobs that outlive the wrapped command (pipe mode).

When the command has exited and its pipes are still held open after the grace period, a
process it started in the background (`long_job &`) is still writing.  wbrun must return
the command's status now, yet closing the pipes would kill the job with SIGPIPE at its next
write.  So wbrun hands the pipes to this small process, which goes on as a shell's
background job would: it copies the job's output to where wbrun's went (stdout, stderr)
and appends it to the run's output.log, until the job closes its end, then exits.

Invariant: nothing here writes the run's documents; output.log is only appended, one whole
line per write, as during the run.  A reader that went away (EPIPE: `| head` exited) ends
the copy of that pipe, so the job's next write to it fails as at a shell; a terminal that
hung up (EIO) only ends the echo.
"""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path


def hand_off(pipes: dict[int, int], log_path: str) -> subprocess.Popen | None:
    """Start the carrier for `pipes` ({read fd: 1 or 2}); None if it cannot start (then
    the pipes are simply closed, as before)."""
    spec = ",".join(f"{fd}:{out}" for fd, out in pipes.items())
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "wandb_cli.runner.drain", spec, log_path],
            # a session of its own: no terminal signal (Ctrl+C, a hangup when wbrun's own
            # terminal goes) may end the copy before the job ends
            stdin=subprocess.DEVNULL, pass_fds=tuple(pipes), close_fds=True,
            start_new_session=True)
    except OSError:
        return None


def carry(pipes: dict[int, int], log_path: str) -> None:
    """Copy each pipe to its output and to output.log until every pipe is at its end."""
    from wandb_cli.runner.capture import OutputRecorder
    from wandb_cli.runner.pumps import OUTPUT_CACHE_WINDOW, read_buffered
    from wandb_cli.store import jsonio

    try:
        log = jsonio.AppendFile(Path(log_path), cache_window=OUTPUT_CACHE_WINDOW)
    except Exception:
        log = None
    recorder = OutputRecorder(log)
    streams = {fd: recorder.stream() for fd in pipes}
    echo = dict(pipes)
    selector = selectors.DefaultSelector()
    for fd in pipes:
        selector.register(fd, selectors.EVENT_READ)
    while streams:
        for key, _ in selector.select():
            data = _read(key.fd)
            if not data:
                selector.unregister(key.fd)
                streams.pop(key.fd).close()
                continue
            echoed = _echo(echo[key.fd], data) if key.fd in echo else True
            streams[key.fd].feed(data)
            if echoed is None:  # the reader went away: the job's next write gets EPIPE
                for rest in read_buffered(key.fd):  # (what it wrote before, recorded)
                    streams[key.fd].feed(rest)
                selector.unregister(key.fd)
                streams.pop(key.fd).close()
                os.close(key.fd)
            elif not echoed:
                del echo[key.fd]
    if log is not None:
        log.close()


def _read(fd: int) -> bytes:
    while True:
        try:
            return os.read(fd, 65536)
        except InterruptedError:
            continue
        except OSError:
            return b""


def _echo(fd: int, data: bytes) -> bool | None:
    """True when written; None when nobody reads `fd` any more (EPIPE); False when the
    echo failed otherwise (a terminal that hung up: EIO), which ends only the echo."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except InterruptedError:
            continue
        except BrokenPipeError:
            return None
        except OSError:
            return False
    return True


def main(argv: list[str]) -> int:
    # Ctrl+C at the terminal belongs to whatever runs in the foreground now, not to us; a
    # terminal that hangs up only ends the echo (EIO), not the copy into output.log.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    spec, log_path = argv
    pipes = {int(fd): int(out) for fd, out in (pair.split(":") for pair in spec.split(","))}
    carry(pipes, log_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
