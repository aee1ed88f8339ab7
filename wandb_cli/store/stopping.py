"""Stopping a live run from any terminal or host that shares the store.

Invariants: the request travels through the store (`<run dir>/stop-request`, written whole),
so it reaches a run recorded on another host; the run's own recorder notices it within a
poll (0.25 s) and ends the run as killed (a wrapper signals its child SIGINT, SIGTERM,
SIGKILL `timeout` apart; the SDK raises KeyboardInterrupt in the main thread, as Ctrl+C
does).  The stopper signals a process only on its own host, and only the process whose pid
*and* start time the run recorded; it writes the run's final state only once that recorder
is gone, so a live owner is never contradicted.
"""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from wandb_cli.errors import RunNotFound, UsageError, WbrunError
from wandb_cli.store import jsonio, proc
from wandb_cli.store.layout import GONE, RUN_DOC, RunPaths, Store, judge_recorder
from wandb_cli.store.model import CRASHED, KILLED, RUNNING, RunRecord
from wandb_cli.store.recorder import STOP_REQUEST

DEFAULT_STOP_TIMEOUT_S = 10.0  # as the wrapper's own default
MIN_STOP_TIMEOUT_S = 0.1
# After the last signal is due: time for a recorder to write its end (the wrapper waits up
# to 10 s for its metadata thread), or for a run on another host to act on the request.
GRACE_S = 15.0


@dataclass
class StopRequest:
    """One run asked to stop, and what became of it (`final`, once known)."""

    record: RunRecord
    timeout_s: float
    asked_at: float  # monotonic seconds
    recorder: str = ""
    pid_start: str | None = None
    final: RunRecord | None = None
    already_ended: bool = False
    last_signal: int | None = None

    @property
    def deadline_s(self) -> float:
        return 3 * self.timeout_s + GRACE_S


def check_timeout(timeout_s: float | None) -> float:
    timeout_s = DEFAULT_STOP_TIMEOUT_S if timeout_s is None else float(timeout_s)
    if not timeout_s >= MIN_STOP_TIMEOUT_S:
        raise UsageError(f"bad --timeout {timeout_s:g}: give seconds, at least {MIN_STOP_TIMEOUT_S}")
    return timeout_s


def request_stop(store: Store, record: RunRecord, *, timeout_s: float | None = None,
                 monotonic: Callable[[], float] = time.monotonic, force: bool = False) -> StopRequest:
    """Ask a running run to stop (an ended run is left alone: `already_ended`).  A run that
    reads crashed by its heartbeat alone may be live on another host: refused unless
    `force`, then asked like a running one."""
    timeout_s = check_timeout(timeout_s)
    paths = RunPaths(Path(record.dir))
    if record.maybe_live and not force:
        from wandb_cli.store.lifecycle import maybe_live_message

        raise WbrunError(maybe_live_message(record, "stop"))
    if record.state != RUNNING and not record.maybe_live:
        return StopRequest(record, timeout_s, monotonic(), final=record, already_ended=True)
    try:
        doc = jsonio.read_json(paths.file(RUN_DOC), {}) or {}
    except ValueError:
        doc = {}
    jsonio.write_json_atomic(paths.dir / STOP_REQUEST, {
        "timeout": timeout_s, "requested_at": store.clock(), "host": store.host})
    return StopRequest(record, timeout_s, monotonic(), recorder=str(doc.get("recorder") or ""),
                       pid_start=doc.get("pid_start"))


def wait_for_end(store: Store, requests: Sequence[StopRequest], *, poll_s: float = 0.05,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 kill: Callable[[int, int], None] = os.kill) -> list[StopRequest]:
    """Wait until every requested run has ended (or its deadline passed: `final` is then
    still running); escalates with signals where only signals can help (see _escalate)."""
    pending = [r for r in requests if r.final is None]
    while pending:
        now = monotonic()
        for request in list(pending):
            current = store.read(Path(request.record.dir))
            elapsed = now - request.asked_at
            if current.state != RUNNING and not current.maybe_live:
                request.final = _settle(store, request, current)
            elif elapsed > request.deadline_s:
                request.final = current
            else:
                _escalate(store, request, elapsed, kill)
                continue
            pending.remove(request)
        if pending:
            sleep(poll_s)
    return list(requests)


def _escalate(store: Store, request: StopRequest, elapsed: float,
              kill: Callable[[int, int], None]) -> None:
    """An SDK-only run on this host that outlives its KeyboardInterrupt (a program that
    swallows it, or is stuck in native code) gets SIGTERM after `timeout`, SIGKILL after
    twice that.  A wrapper escalates on its child by itself."""
    record = request.record
    if request.recorder != "sdk" or record.host != store.host or not record.pid:
        return
    due = signal.SIGKILL if elapsed >= 2 * request.timeout_s else (
        signal.SIGTERM if elapsed >= request.timeout_s else None)
    if due is None or due == request.last_signal:
        return
    if not proc.is_alive(record.pid, request.pid_start):
        return
    try:
        kill(record.pid, due)
    except (ProcessLookupError, PermissionError):
        return
    request.last_signal = due


def _settle(store: Store, request: StopRequest, current: RunRecord) -> RunRecord:
    """The run ended: clear the request (a later resume must not see it) and, when its
    recorder died on this host without writing an end (our SIGTERM/SIGKILL, or a program
    with no SIGINT handler), record it as killed."""
    paths = RunPaths(Path(current.dir))
    if current.state == CRASHED and not current.maybe_live:
        now = store.clock()
        code = None if request.last_signal is None else 128 + int(request.last_signal)

        def end(doc: dict) -> None:
            # only a recorder certainly gone (its lock free under this kernel, or its pid
            # dead here for an older run) is written over
            if doc.get("state") == RUNNING and judge_recorder(
                    doc, paths.dir, host=store.host, now=now, stale_after=float("inf")) == GONE:
                doc.update(state=KILLED, ended=now, exit_code=code, stopped_by="wbrun runs stop")

        from wandb_cli.store.lifecycle import change_run_doc

        try:
            change_run_doc(current, end)
        except RunNotFound:  # deleted meanwhile: nothing left to record
            return current
        current = store.read(paths.dir)
    try:
        os.unlink(paths.dir / STOP_REQUEST)
    except OSError:
        pass
    return current
