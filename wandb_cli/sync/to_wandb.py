"""Writing wbrun runs as W&B offline runs, by driving the real `wandb` SDK in offline mode.

W&B's own SDK writes the `.wandb` file, so `wandb sync` uploads it as any offline run.
Kept: ID, name, project, entity, group, job_type, tags, notes, config, every history row with
its `_step` and original `_timestamp` (the SDK keeps a logged `_timestamp`), the summary, and
the files under `files/`.  The SDK sets the run's start time and `_runtime` itself, so the
wbrun attributes it cannot take (created, ended, state, exit code, host, command) travel in
the config key `_wbrun`, which `wbrun import wandb` reads back (W&B hides `_` keys).

Invariant: an export is recorded in the sync record of its output folder with what it held
(the last `_step`, the state, the end time), so exporting the same run again into the same
folder writes nothing new while those are unchanged.  A run changed since (resumed: new rows,
a later end) is exported again whole, as a new offline run; the earlier folder is moved from
`OUT/wandb/` to `OUT/replaced/`, so `wandb sync OUT/wandb/offline-run-*` sends one offline
run per ID, the complete one.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path
from typing import Callable, Iterator

from wandb_cli.artifacts.runfiles import is_own_document, list_run_files
from wandb_cli.errors import UsageError
from wandb_cli.store import jsonio
from wandb_cli.store.layout import HISTORY, RunPaths, Store
from wandb_cli.store.model import FINISHED, RUNNING, RunRecord
from wandb_cli.sync import source
from wandb_cli.sync.record import SyncRecord, SyncRecords

WBRUN_CONFIG_KEY = "_wbrun"
STATE_EXIT = {FINISHED: 0}


def need_wandb():
    """The real W&B SDK (not a compatibility shim that answers to the same name)."""
    import importlib.util

    source.need("wandb", "wandb")
    if importlib.util.find_spec("wandb.proto") is None:
        raise UsageError("the 'wandb' found is not W&B's SDK: pip install 'wbrun[wandb]'")
    import wandb

    return wandb


def wbrun_attributes(record: RunRecord) -> dict:
    return {"created": record.created, "ended": record.ended, "state": record.state,
            "exit_code": record.exit_code, "host": record.host, "command": record.command,
            "heartbeat": record.heartbeat}


def export_runs(store: Store, records: list[RunRecord], out_dir: Path,
                report: Callable[[str], None] = lambda _line: None) -> list[Path]:
    """Each run as `out_dir/wandb/offline-run-*`; returns the folders written now."""
    wandb = need_wandb()
    out_dir.mkdir(parents=True, exist_ok=True)
    done = SyncRecords(store.root, f"wandb {out_dir}", "wandb")
    written = []
    with _offline_env():
        for record in records:
            if record.state == RUNNING:
                report(f"{record.id}: still running, not exported (W&B offline runs are written once)")
                continue
            previous = done.load(record.id)
            earlier = Path(previous.remote_id) if previous and previous.remote_id else None
            if earlier is not None and not earlier.exists():
                earlier = None
            if previous is not None and earlier is not None and not _changed(previous, record):
                report(f"{record.id} -> {earlier}: exported before, unchanged")
                continue
            folder, replaced = _export_replacing(wandb, record, out_dir, earlier)
            done.save(_exported(record, folder))
            written.append(folder)
            report(f"{record.id} -> {folder}" + (
                f" (changed since its export: the earlier one moved to {replaced})" if replaced else ""))
    return written


def _last_step(record: RunRecord) -> int:
    """The `_step` of the last history row (steps only grow), read from the file's tail."""
    step = (jsonio.last_jsonl_row(RunPaths(Path(record.dir)).file(HISTORY)) or {}).get("_step")
    return step if isinstance(step, int) else -1


def _exported(record: RunRecord, folder: Path) -> SyncRecord:
    sync = SyncRecord(record.id, str(folder), step=_last_step(record), status=record.state)
    sync.extra["ended"] = record.ended
    return sync


def _changed(previous: SyncRecord, record: RunRecord) -> bool:
    """New rows, another state or a later end (a resumed run) since the export; a record
    written before the end was kept is judged by rows and state alone."""
    ended_changed = "ended" in previous.extra and previous.extra["ended"] != record.ended
    return previous.step != _last_step(record) or previous.status != record.state or ended_changed


def _export_replacing(wandb, record: RunRecord, out_dir: Path, earlier: Path | None) -> tuple[Path, Path | None]:
    """Export `record`; an earlier export of it is first moved to `out_dir/replaced/` (moved
    back if the export fails), so W&B's glob of offline runs never sees two of one ID."""
    if earlier is None:
        return export_run(wandb, record, out_dir), None
    aside = out_dir / "replaced" / earlier.name
    aside.parent.mkdir(parents=True, exist_ok=True)
    if aside.exists():  # an older replaced copy of the same folder name: the newer one stays
        shutil.rmtree(aside)
    earlier.rename(aside)
    try:
        return export_run(wandb, record, out_dir), aside
    except BaseException:
        if not earlier.exists():
            aside.rename(earlier)
        raise


@contextlib.contextmanager
def _offline_env() -> Iterator[None]:
    keys = ("WANDB_MODE", "WANDB_SILENT", "WANDB_CONSOLE", "WANDB_DISABLE_GIT", "WANDB_RUN_ID",
            "WANDB_RESUME", "WANDB_DIR", "WANDB_PROJECT", "WANDB_ENTITY")
    saved = {key: os.environ.get(key) for key in keys}
    for key in keys:
        os.environ.pop(key, None)
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def export_run(wandb, record: RunRecord, out_dir: Path) -> Path:
    """One run as a W&B offline run; returns its offline-run-* folder."""
    settings = wandb.Settings(mode="offline", silent=True, console="off", x_disable_stats=True,
                              disable_git=True, save_code=False, x_disable_meta=True,
                              disable_job_creation=True)
    whole_config, whole_summary = source.whole_documents(record)
    config = {**whole_config, WBRUN_CONFIG_KEY: wbrun_attributes(record)}
    with contextlib.redirect_stdout(io.StringIO()):
        run = wandb.init(id=record.id, name=record.name, project=record.project,
                         entity=record.entity or None, group=record.group, job_type=record.job_type,
                         tags=list(record.tags), notes=record.notes, config=config,
                         dir=str(out_dir), settings=settings, reinit="create_new")
        try:
            _log_history(run, record)
            run.summary.update(whole_summary)
            _save_files(run, record)
        finally:
            run.finish(exit_code=STATE_EXIT.get(record.state, record.exit_code or 1))
    return Path(run.dir).parent


def _log_history(run, record: RunRecord) -> None:
    """Every row at its own `_step`, the last one committed: W&B holds a row logged with a
    step until the next step or finish(), and a row sets the summary of its keys when it
    is written, so a held last row would overwrite the summary written after it (a value
    set after the last log).  An empty `log({}, commit=True)` would commit it too, but
    stamps it with the time of the export instead of its own `_timestamp`."""
    previous = None
    for row in source.iter_history(record.dir):
        if previous is not None:
            _log_row(run, previous, commit=None)
        previous = row
    if previous is not None:
        _log_row(run, previous, commit=True)


def _log_row(run, row: dict, *, commit: bool | None) -> None:
    step = row.get("_step")
    data = {k: v for k, v in row.items() if k not in ("_step", "_runtime")}
    run.log(data, step=step if isinstance(step, int) else None, commit=commit)


def _save_files(run, record: RunRecord) -> None:
    """files/ into the offline run: saved files, output.log and wbrun's own documents under
    their own names except those W&B writes itself (config, summary, history, metadata)."""
    files_dir = Path(record.dir) / "files"
    for entry in list_run_files(Path(record.dir)):
        if is_own_document(entry.path) and entry.path not in ("output.log", "wandb-events.jsonl",
                                                               "wbrun-run.json"):
            continue
        run.save(str(files_dir / entry.path), base_path=str(files_dir), policy="now")
