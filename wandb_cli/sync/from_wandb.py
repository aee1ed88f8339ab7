"""Importing W&B offline runs (`offline-run-*/run-*.wandb`) into the store.

The `.wandb` file is read with W&B's own record classes (sync/wandb_log.py): the run record
(attributes, config), config and summary updates, history rows (`_step`, `_timestamp`),
system-metric samples, console output, the file list and the exit record.  A run exported by
`wbrun sync --to wandb` carries its wbrun attributes in the config key `_wbrun`; they are
restored and the key dropped, so export then import gives back the same run.
Invariant: a run without an exit record is imported as crashed, never as finished.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from wandb_cli.errors import UsageError
from wandb_cli.store import jsonio
from wandb_cli.store.layout import Store
from wandb_cli.store.model import CRASHED, FAILED, FINISHED, RUNNING
from wandb_cli.sync.importer import ForeignRun, ImportOutcome, write_run
from wandb_cli.sync.to_wandb import WBRUN_CONFIG_KEY
from wandb_cli.sync.wandb_log import read_records


def find_run_files(paths: list[Path]) -> list[Path]:
    """The `.wandb` files named, or inside the offline-run folders named."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(path.glob("run-*.wandb")) or sorted(path.glob("*/run-*.wandb"))
            if not inside:
                raise UsageError(f"{path}: no run-*.wandb file in it")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    return found


def import_paths(store: Store, paths: list[Path]) -> Iterator[ImportOutcome]:
    for path in find_run_files(paths):
        yield write_run(store, read_offline_run(path))


def _value(item: Any) -> Any:
    return jsonio.loads(item.value_json)


def _key_path(item: Any) -> list[str]:
    return list(item.nested_key) or [item.key]


def _set(target: dict, path: list[str], value: Any) -> None:
    for name in path[:-1]:
        nested = target.get(name)
        if not isinstance(nested, dict):
            nested = target[name] = {}
        target = nested
    target[path[-1]] = value


def _remove(target: dict, path: list[str]) -> None:
    for name in path[:-1]:
        nested = target.get(name)
        if not isinstance(nested, dict):
            return
        target = nested
    target.pop(path[-1], None)


class _Reader:
    """Folds a `.wandb` file's records into a ForeignRun."""

    def __init__(self, path: Path):
        self.path = path.resolve()
        self.run = ForeignRun("wandb", str(self.path), "")
        self.config: dict = {}
        self.summary: dict = {}
        self.exit: Any = None
        self.output: list[str] = []
        self.file_names: list[str] = []

    def read(self) -> ForeignRun:
        for record in read_records(self.path):
            kind = record.WhichOneof("record_type")
            handler = getattr(self, f"on_{kind}", None)
            if handler is not None:
                handler(getattr(record, kind))
        return self.finish()

    def on_run(self, run: Any) -> None:
        target = self.run
        target.source_id = target.id = run.run_id
        target.name, target.project, target.entity = run.display_name or None, run.project, run.entity
        target.group, target.job_type = run.run_group or None, run.job_type or None
        target.notes, target.tags, target.host = run.notes or None, list(run.tags), run.host
        target.created = run.start_time.seconds + run.start_time.nanos / 1e9
        self.on_config(run.config)

    def on_config(self, config: Any) -> None:
        for item in config.update:
            _set(self.config, _key_path(item), _value(item))
        for item in config.remove:
            _remove(self.config, _key_path(item))

    def on_summary(self, summary: Any) -> None:
        for item in summary.update:
            _set(self.summary, _key_path(item), _value(item))
        for item in summary.remove:
            _remove(self.summary, _key_path(item))

    def on_history(self, history: Any) -> None:
        row: dict = {}
        for item in history.item:
            _set(row, _key_path(item), _value(item))
        if history.HasField("step") and "_step" not in row:
            row["_step"] = history.step.num
        self.run.history.append(row)

    def on_stats(self, stats: Any) -> None:
        row = {f"system.{item.key}": _value(item) for item in stats.item}
        row["_timestamp"] = stats.timestamp.seconds + stats.timestamp.nanos / 1e9
        self.run.events.append(row)

    def on_output_raw(self, output: Any) -> None:
        self.output.append(output.line)

    def on_files(self, files: Any) -> None:
        self.file_names.extend(item.path for item in files.files)

    def on_exit(self, exit_record: Any) -> None:
        self.exit = exit_record

    def finish(self) -> ForeignRun:
        run = self.run
        if not run.source_id:
            raise UsageError(f"{self.path}: no run record in it (not a W&B run file?)")
        saved = self.config.pop(WBRUN_CONFIG_KEY, None)
        self.config.pop("_wandb", None)
        run.config = self.config
        run.summary = {k: v for k, v in self.summary.items() if not k.startswith("_")}
        self._times_and_state()
        if isinstance(saved, dict):
            self._restore(saved)
        self._fix_runtimes()
        files_dir = self.path.parent / "files"
        names = dict.fromkeys([*self.file_names, *_files_under(files_dir)])
        run.files = {name: files_dir / name for name in names if (files_dir / name).is_file()}
        if not run.events and "wandb-events.jsonl" in run.files:  # exported by wbrun
            run.events = list(jsonio.iter_jsonl(run.files["wandb-events.jsonl"]))
        if self.output:
            run.output = "".join(self.output).encode()
        return run

    def _times_and_state(self) -> None:
        run = self.run
        stamps = [row["_timestamp"] for row in run.history if isinstance(row.get("_timestamp"), (int, float))]
        last = max(stamps, default=run.created)
        if self.exit is None:
            run.state, run.heartbeat = RUNNING, last  # no exit record: judged crashed on read
            return
        run.exit_code = self.exit.exit_code
        run.state = FINISHED if self.exit.exit_code == 0 else FAILED
        run.ended = max(last, run.created + self.exit.runtime)

    def _restore(self, saved: dict) -> None:
        run = self.run
        for key in ("created", "ended", "heartbeat", "state", "exit_code", "host", "command"):
            if key in saved:
                setattr(run, key, saved[key])
        if run.state == CRASHED:
            run.state = RUNNING  # wbrun judges crashed when it reads a running run without a recorder

    def _fix_runtimes(self) -> None:
        """W&B's `_runtime` counts from the export; wbrun's from the run's start."""
        for row in self.run.history:
            stamp = row.pop("_timestamp", None)
            step = row.pop("_step", None)
            row.pop("_runtime", None)
            if step is not None:
                row["_step"] = step
            if isinstance(stamp, (int, float)):
                row["_runtime"] = round(max(0.0, stamp - self.run.created), 3)
                row["_timestamp"] = stamp


def _files_under(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def read_offline_run(path: Path) -> ForeignRun:
    return _Reader(path).read()
