"""Changing runs after the fact: delete (to the store's trash), restore, purge.

Invariants: a deleted run's folder moves whole into `<root>/.trash/` with one rename, and its
ID claim is marked deleted, never removed, so the ID is never handed out or accepted again.
"""
from __future__ import annotations

import os

from wandb_cli.errors import StoreError, WbrunError
from wandb_cli.model import RUNNING, RunRecord
from wandb_cli.store import Store

TRASH = ".trash"


def delete_run(store: Store, record: RunRecord, *, clock=None) -> str:
    """Move a run into the trash; returns its path there.  A running run is refused."""
    if record.state == RUNNING:
        raise WbrunError(f"run {record.id} is running; stop it first (or pass --force)")
    source = os.path.join(store.root, os.path.basename(record.dir))
    trash = store.root / TRASH
    trash.mkdir(exist_ok=True)
    target = trash / os.path.basename(record.dir)
    try:
        os.rename(source, target)
    except OSError as exc:
        raise StoreError(f"cannot move run {record.id} to the trash: {exc.strerror}") from None
    now = (clock or store.clock)()
    store.write_claim(record.id, {"dir": f"{TRASH}/{target.name}", "status": "deleted",
                                  "deleted_at": now})
    return str(target)
