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
what was held instead (a long process, the web UI, never holds).  A command whose last act
is one write of its output (`runs ls`) may end the program as soon as it is written
(`end_at_output`, `output_written`), so that the structures built for the output are not
freed either.
"""
from __future__ import annotations

import gc
import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator

_HELD: list[Any] = []
_PROGRAM = False  # this process is wbrun's own (main() run as the program), not a caller's
_ENDS_AT_OUTPUT = False  # the command running writes its output last (see end_at_output)


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
    _end(status)


def _end(status: int) -> None:
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
    """Forget what is held, and any end_at_output declared (for a command run inside a
    longer process, and before the next)."""
    global _ENDS_AT_OUTPUT
    _HELD.clear()
    _ENDS_AT_OUTPUT = False


def as_program(program: bool) -> None:
    """Whether this process is the program itself (main() as `wbrun`), which may end early."""
    global _PROGRAM
    _PROGRAM = program


def end_at_output() -> None:
    """Declare that the running command has nothing left to do once its output is written
    (by one call of a writer that calls `output_written`): the program then ends there,
    status 0, before the frames that built the output return and free it object by object
    (100,000 runs' listing: its columns, cells and lines took ~0.08 s to free, after the
    table was out).  A no-op unless this process is the program."""
    global _ENDS_AT_OUTPUT
    _ENDS_AT_OUTPUT = _PROGRAM


def output_written() -> None:
    """Called by the output writers once they have written: ends the program with status 0
    (as exit_holding does) if the command declared end_at_output, else returns."""
    if _ENDS_AT_OUTPUT:
        _end(0)
