"""Local records of how far each run was pushed to each target.

    <root>/.wbrun/sync/<sha256(target)[:16]>/target.json     {"target": ..., "kind": ...}
    <root>/.wbrun/sync/<sha256(target)[:16]>/<run id>.json   one run's progress

Invariant: a record is replaced whole (write-then-rename) after each batch the target has
accepted, so it never claims more than was pushed: a sync cut short re-sends at most the
last batch, which the target keeps once (MLflow ignores an identical metric point).
One file per run, so two syncs of different runs never contend.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb_cli.store import jsonio
from wandb_cli.store.layout import META


def target_dir(root: Path, target: str) -> Path:
    digest = hashlib.sha256(target.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return Path(root) / META / "sync" / digest


@dataclass
class SyncRecord:
    """How much of one run a target holds."""

    run_id: str
    remote_id: str | None = None
    step: int = -1  # the last history `_step` pushed
    events: int = 0  # system samples pushed (rows of wandb-events.jsonl, in file order)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    summary: dict[str, float] = field(default_factory=dict)
    files: dict[str, list] = field(default_factory=dict)  # path -> [size, mtime_ns]
    status: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"run_id": self.run_id, "remote_id": self.remote_id, "step": self.step,
                "events": self.events, "params": self.params, "tags": self.tags,
                "summary": self.summary, "files": self.files, "status": self.status,
                "extra": self.extra}

    @classmethod
    def from_json(cls, data: dict) -> SyncRecord:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


class SyncRecords:
    """The records of one target (a URI plus experiment, or an output folder)."""

    def __init__(self, root: Path, target: str, kind: str):
        self.dir = target_dir(root, target)
        self.target, self.kind = target, kind

    def path(self, run_id: str) -> Path:
        return self.dir / f"{run_id}.json"

    def load(self, run_id: str) -> SyncRecord | None:
        try:
            data = jsonio.read_json(self.path(run_id), None)
        except ValueError:
            return None  # unreadable: the target's own marks decide (see the pushers)
        return SyncRecord.from_json(data) if isinstance(data, dict) else None

    def save(self, record: SyncRecord) -> None:
        if not self.dir.exists():
            jsonio.make_dirs(self.dir)
            jsonio.write_json_atomic(self.dir / "target.json", {"target": self.target, "kind": self.kind})
        jsonio.write_json_atomic(self.path(record.run_id), record.to_json())
