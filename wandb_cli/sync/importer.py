"""Writing a run read from another tracker into the store as an ordinary, ended run.

Invariants: a source (a `.wandb` file, an MLflow run of one tracking URI) is imported once:
its mark `.wbrun/imports/<sha256(source)[:24]>` names the run made from it, and a second
import finds the mark and the run and makes nothing.  The run keeps its source's ID when the
store has never used that ID (claimed with O_EXCL as any ID), else gets a new one.  The run
document carries `imported: {from, source, source_id, at}`, so the run says where it came
from.  The run's claim is written last: a run cut short by a crash is never listed as live.
"""
from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb_cli.errors import RunExists, UsageError
from wandb_cli.store import jsonio
from wandb_cli.store.ids import new_name, validate_id
from wandb_cli.store.layout import (
    CONFIG,
    DEFAULT_PROJECT,
    EVENTS,
    FORMAT_VERSION,
    HISTORY,
    META,
    METADATA,
    OUTPUT,
    RUN_DOC,
    SUMMARY,
    RunPaths,
    Store,
)
from wandb_cli.store.model import FINISHED

OWN_FILES = frozenset({RUN_DOC, CONFIG, SUMMARY, HISTORY, EVENTS, METADATA})


@dataclass
class ForeignRun:
    """A run as read from another tracker, in wbrun's terms."""

    kind: str  # "wandb" or "mlflow"
    source: str  # what identifies it for idempotence: a file path, or URI + run id
    source_id: str  # the other tracker's run ID
    id: str | None = None  # the ID to keep when free
    name: str | None = None
    project: str | None = None
    entity: str | None = None
    group: str | None = None
    job_type: str | None = None
    tags: list[str] = field(default_factory=list)
    notes: str | None = None
    state: str = FINISHED
    created: float = 0.0
    ended: float | None = None
    heartbeat: float | None = None
    exit_code: int | None = None
    host: str = ""
    command: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    output: bytes | None = None  # the console output, when the source kept it as records
    files: dict[str, Path] = field(default_factory=dict)  # path under files/ -> source file


@dataclass
class ImportOutcome:
    source: str
    run_id: str
    wanted_id: str | None
    created: bool

    def line(self) -> str:
        if not self.created:
            return f"{self.source}: imported before as {self.run_id}: nothing new"
        if self.wanted_id and self.wanted_id != self.run_id:
            return f"{self.source} -> {self.run_id} (ID {self.wanted_id} is taken in this store: new ID)"
        return f"{self.source} -> {self.run_id}"


def _mark_path(store: Store, source: str) -> Path:
    digest = hashlib.sha256(source.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return store.root / META / "imports" / digest


def imported_before(store: Store, source: str) -> str | None:
    """The ID of the run made from `source`, if it is still in the store (or its trash)."""
    try:
        mark = jsonio.read_json(_mark_path(store, source), None)
    except ValueError:
        return None
    if not isinstance(mark, dict) or not isinstance(mark.get("id"), str):
        return None
    claim = store.read_claim(mark["id"])
    return mark["id"] if claim is not None else None


def write_run(store: Store, run: ForeignRun) -> ImportOutcome:
    """Make `run` a run of the store, unless its source was imported before."""
    previous = imported_before(store, run.source)
    if previous is not None:
        return ImportOutcome(run.source, previous, run.id, created=False)
    run_id = _claim(store, run.id)
    project = run.project or DEFAULT_PROJECT
    sequence = store.next_sequence(project)
    run_dir = store.make_run_dir(run_id, run.created)
    paths = RunPaths(run_dir)
    _write_documents(store, paths, run, run_id, project, sequence)
    _copy_files(paths, run)
    store.write_claim(run_id, {"dir": run_dir.name, "status": "live"})
    mark = _mark_path(store, run.source)
    jsonio.make_dirs(mark.parent)
    jsonio.write_json_atomic(mark, {"id": run_id, "source": run.source})
    return ImportOutcome(run.source, run_id, run.id, created=True)


def _claim(store: Store, wanted: str | None) -> str:
    if wanted:
        try:
            return store.claim_new_id(validate_id(wanted))
        except (RunExists, UsageError):
            pass
    return store.claim_new_id(None)


def _write_documents(store: Store, paths: RunPaths, run: ForeignRun, run_id: str,
                     project: str, sequence: int) -> None:
    last_seen = run.heartbeat or run.ended or run.created
    doc = {
        "format": FORMAT_VERSION, "id": run_id, "name": run.name or new_name(sequence),
        "sequence": sequence, "project": project, "entity": run.entity or "",
        "group": run.group, "job_type": run.job_type, "tags": list(dict.fromkeys(run.tags)),
        "notes": run.notes, "created": run.created, "command": run.command, "host": run.host,
        "state": run.state, "pid": None, "pid_start": None, "recorder": "import",
        "heartbeat": last_seen, "exit_code": run.exit_code, "ended": run.ended,
        "runtime_origin": run.created,
        "imported": {"from": run.kind, "source": run.source, "source_id": run.source_id,
                     "at": store.clock()},
    }
    jsonio.write_json_atomic(paths.file(CONFIG), run.config)
    jsonio.write_json_atomic(paths.file(SUMMARY), run.summary)
    _write_lines(paths.file(HISTORY), run.history)
    _write_lines(paths.file(EVENTS), run.events)
    if run.metadata is not None:
        jsonio.write_json_atomic(paths.file(METADATA), run.metadata, indent=True)
    if run.output is not None and OUTPUT not in run.files:
        jsonio.write_bytes_atomic(paths.file(OUTPUT), run.output)
    jsonio.write_json_atomic(paths.file(RUN_DOC), doc)


def _write_lines(path: Path, rows: list[dict]) -> None:
    if rows:
        jsonio.write_bytes_atomic(path, b"".join(jsonio.dumps(row) + b"\n" for row in rows))


def _copy_files(paths: RunPaths, run: ForeignRun) -> None:
    for relative, source in run.files.items():
        parts = relative.split("/")
        if relative in OWN_FILES or ".." in parts or relative.startswith("/") or not relative:
            continue  # wbrun's own documents are written from the records; never outside files/
        target = paths.files.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(source, target)
        except OSError:
            continue  # a file the source lists but no longer has
