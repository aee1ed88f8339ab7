"""Which runs a sync takes (RUN refs, --filter, --all) and following them with --watch.

Invariant: runs are named once, then read again by ID on every round, so a run's new rows
and its final state reach the target; a round ends each run's push before the next starts.
"""
from __future__ import annotations

import time
from typing import Callable, Protocol, Sequence

from wandb_cli.errors import RunNotFound, UsageError
from wandb_cli.store.layout import Store
from wandb_cli.store.model import RUNNING, RunRecord


class Pusher(Protocol):
    def push(self, record: RunRecord): ...


def select_runs(store: Store, refs: Sequence[str], *, filter_expr: str | None = None,
                all_runs: bool = False) -> list[RunRecord]:
    """The runs named by `refs`, matching `filter_expr`, or all of them; oldest first."""
    if not refs and filter_expr is None and not all_runs:
        raise UsageError("name the runs to sync: RUN..., --filter EXPR or --all")
    chosen: dict[str, RunRecord] = {}
    for ref in refs:
        record = store.find(ref)
        chosen[record.id] = record
    if filter_expr is not None or all_runs:
        from wandb_cli.query.filter import select_runs as query

        every = list(store.iter_runs())
        for record in (query(every, filter_expr=filter_expr) if filter_expr is not None else every):
            chosen.setdefault(record.id, record)
    if not chosen:
        raise RunNotFound("no runs match: nothing to sync")
    return sorted(chosen.values(), key=lambda r: (r.created, r.id))


def follow(store: Store, records: list[RunRecord], push: Callable[[RunRecord], object], *,
           watch: bool, interval_s: float = 2.0, sleep: Callable[[float], None] = time.sleep) -> None:
    """Push every run; with `watch`, again every `interval_s` while any of them runs."""
    current = records
    while True:
        for record in current:
            push(record)
        running = [record.id for record in current if record.state == RUNNING]
        if not watch or not running:
            return
        sleep(interval_s)
        current = [_reread(store, run_id) for run_id in running]  # ended ones are complete


def _reread(store: Store, run_id: str) -> RunRecord:
    run_dir = store.dir_of(run_id)
    if run_dir is None:
        raise RunNotFound(f"run {run_id} was deleted while it was being synced")
    return store.read(run_dir)
