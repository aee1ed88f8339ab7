"""Sizes and pipe settings for pumping a child's output at disk speed.

Invariant: nothing here changes what bytes flow, only how many move per system call and
how long they stay cached: a wider pipe and bigger reads let the pump copy a fast writer's
output in large chunks, and output.log keeps only a few windows of it in the page cache.
"""
from __future__ import annotations

import os
import sys
from typing import Iterator

READ_SIZE = 1 << 20
PIPE_SIZE = 1 << 20
# output.log's page-cache footprint: written back and dropped after every window appended
# (jsonio.AppendFile); 8 MB is far above a usual run's output, so only floods pay the advice
OUTPUT_CACHE_WINDOW = 8 << 20
_F_SETPIPE_SZ = 1031  # Linux fcntl


def widen_pipe(fd: int, size: int = PIPE_SIZE) -> None:
    """Ask the kernel for a bigger pipe buffer (Linux); keep the default if refused (the
    limit is /proc/sys/fs/pipe-max-size for unprivileged users)."""
    if not sys.platform.startswith("linux"):
        return
    import fcntl

    try:
        fcntl.fcntl(fd, _F_SETPIPE_SZ, size)
    except OSError:
        pass


def read_buffered(fd: int) -> Iterator[bytes]:
    """The bytes already waiting in pipe `fd` (its writer's writes so far), read without
    waiting for more: what to record before closing a pipe whose echo has no reader left.
    Bounded by what the pipe held when asked (a fast writer cannot keep it going)."""
    import array
    import fcntl
    import termios

    count = array.array("i", [0])
    try:
        fcntl.ioctl(fd, termios.FIONREAD, count, True)
    except OSError:
        return
    left = count[0]
    while left > 0:
        try:
            data = os.read(fd, min(left, READ_SIZE))
        except InterruptedError:
            continue
        except OSError:
            return
        if not data:
            return
        left -= len(data)
        yield data
