"""The cyclic garbage collector paused while a large acyclic structure is built and used;
and such a structure kept, unfreed, until a one-shot command's process ends.

Reference counting still frees every object; only the collector's repeated passes over
young objects are skipped (building 100,000 records, or reading 100,000 printed metric
lines, cost ~30% more with them).  Mercurial's `nogc` does the same.  The collector is back
on afterwards if it was on before, so callers inside a longer process keep it.

Freeing is the other cost: dropping 100,000 run records object by object took ~0.45 s of a
`runs ls` here, after its output was written.  A command that holds such a structure
(`hold_until_exit`) is ended by `exit_holding` with `os._exit` once its output is flushed,
which leaves the freeing to the kernel.  Only the CLI's one-shot commands hold, and only the
program's own `main()` ends early; called by another process's code, `main()` releases
what was held instead (a long process, the web UI, never holds).
"""
from __future__ import annotations

import gc
import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator

_HELD: list[Any] = []


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def hold_until_exit(structure: Any) -> None:
    """Keep `structure` alive until the process ends (see `exit_holding`)."""
    _HELD.append(structure)


def exit_holding(status: int) -> None:
    """When anything is held: run the exit handlers (a coverage tool's, an embedder's), flush
    the standard streams and end the process now with `status`, without freeing what is
    held.  Otherwise return, for an ordinary exit."""
    if not _HELD:
        return
    import atexit

    _flush(sys.stdout)  # (a reader that left raises BrokenPipeError here, as at exit)
    atexit._run_exitfuncs()  # what an ordinary exit runs before it frees anything
    _flush(sys.stdout)
    _flush(sys.stderr)
    os._exit(status)


def _flush(stream) -> None:
    if stream is not None:  # (None where the descriptor was closed when Python started)
        stream.flush()


def release_held() -> None:
    """Forget what is held (for a command run inside a longer process)."""
    _HELD.clear()
