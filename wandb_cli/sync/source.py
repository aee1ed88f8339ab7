"""Reading a wbrun run for export: flattened config, metric rows, system samples, files.

Invariant: pure reads of one run folder; history and events are read in file order, so the
n-th row read is the n-th row written (both files are only ever appended).
"""
from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any, Iterator

from wandb_cli.errors import UsageError
from wandb_cli.store import jsonio
from wandb_cli.store.layout import CONFIG, EVENTS, HISTORY, METADATA, SUMMARY, RunPaths
from wandb_cli.store.model import RunRecord

RESERVED = ("_step", "_timestamp", "_runtime")


def need(module: str, extra: str):
    """Import `module`, or a UsageError (exit 2) saying which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(f"this needs the {module!r} package: pip install 'wbrun[{extra}]'") from None


def flatten(mapping: dict, prefix: str = "", sep: str = ".") -> dict[str, Any]:
    """Nested dicts as `a.b` keys (a dict holding `_type` is one W&B value, kept whole)."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and "_type" not in value:
            flat.update(flatten(value, name + sep, sep))
        else:
            flat[name] = value
    return flat


def is_metric_value(value: Any) -> bool:
    """A number a tracker can store as a metric point (bools and non-numbers are not)."""
    return type(value) in (int, float)


def numeric_items(row: dict) -> Iterator[tuple[str, float]]:
    for key, value in flatten(row).items():
        if key not in RESERVED and is_metric_value(value):
            yield key, float(value)


def iter_rows(run_dir: str | Path, name: str = HISTORY) -> Iterator[dict]:
    """History (or events) rows in file order; a torn line is skipped silently."""
    path = RunPaths(Path(run_dir)).file(name)
    yield from jsonio.iter_jsonl(path, on_torn=lambda _message: None)


def iter_history(run_dir: str | Path) -> Iterator[dict]:
    return iter_rows(run_dir, HISTORY)


def iter_events(run_dir: str | Path) -> Iterator[dict]:
    return iter_rows(run_dir, EVENTS)


def last_seen(record: RunRecord) -> float | None:
    """When the run ended: its `ended`, else (a crashed run, which wrote no end) the latest of
    its heartbeat and the `_timestamp` of its last history row and last system sample: a
    recorder killed between heartbeats wrote rows after its last one.  Each file's last row
    is read from its tail, never the whole file."""
    if record.ended is not None:
        return record.ended
    paths = RunPaths(Path(record.dir))
    stamps = [record.heartbeat, *((jsonio.last_jsonl_row(paths.file(name)) or {}).get("_timestamp")
                                  for name in (HISTORY, EVENTS))]
    known = [float(s) for s in stamps if isinstance(s, (int, float)) and not isinstance(s, bool)]
    return max((s for s in known if is_finite(s)), default=None)


def metadata(run_dir: str | Path) -> dict:
    try:
        doc = jsonio.read_json(RunPaths(Path(run_dir)).file(METADATA), {})
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def whole_documents(record: RunRecord) -> tuple[dict, dict]:
    """The run's config and summary as stored: a listing's record holds a document over the
    listing limit truncated (store/bigdoc.py); an export sends the whole of it."""
    config, summary = record.config, record.summary
    paths = RunPaths(Path(record.dir))
    if CONFIG in record.oversize:
        config = jsonio.read_json(paths.file(CONFIG), {})
    if SUMMARY in record.oversize:
        summary = jsonio.read_json(paths.file(SUMMARY), {})
    return config, summary


def git_commit(run_dir: str | Path) -> str | None:
    git = metadata(run_dir).get("git")
    commit = git.get("commit") if isinstance(git, dict) else None
    return commit if isinstance(commit, str) else None


def is_finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))
