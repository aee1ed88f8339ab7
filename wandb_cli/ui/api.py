"""The web UI's JSON API as plain functions over the store: no web framework, no Rich.

Invariant: every answer is built by the same core as the CLI (`query.filter.narrow_runs` and
`query.filter.select_runs` for the runs table, `query.group.group_runs` for groups,
`store.lifecycle` and `store.stopping` for actions, `charts.data` for downsampling), and every
failure is a `WbrunError` the app turns into a JSON error (UsageError: 400, RunNotFound: 404).
User text travels as JSON strings; the pages put it in the DOM as text, never as HTML.
A run is named in a URL by its exact ID only (a prefix or name is no path to a folder).
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from wandb_cli.errors import RunNotFound, UsageError
from wandb_cli.store.layout import EVENTS, HISTORY, METADATA, OUTPUT, RunPaths, Store
from wandb_cli.store.model import RUNNING, RunRecord, iso
from wandb_cli.ui import series
from wandb_cli.ui.logs import log_chunk

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
RECORDS_TTL_S = 1.0


class StoreView:
    """The store as the server sees it.

    The list of runs is a snapshot, re-read in the background once it is `ttl_s` old
    (stale-while-revalidate: reading 10,000 runs takes longer than an answer may), so no
    request waits for a re-read but the first and the one after an action (`forget`).  A
    re-read that finds the same runs keeps the old snapshot and its `generation`, so answers
    computed from it (`memo`) stay valid; a single run is always read fresh."""

    def __init__(self, store: Store, *, ttl_s: float = RECORDS_TTL_S,
                 monotonic: Callable[[], float] = time.monotonic, memo_size: int = 64):
        self.store, self.ttl_s, self.monotonic = store, ttl_s, monotonic
        self.series = series.SeriesCache()
        self.generation = 0
        self._records: list[RunRecord] | None = None
        self._fingerprint = 0
        self._read_at = -1e18
        self._refreshing = False
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._memo: dict[tuple, Any] = {}
        self._memo_size = memo_size

    def records(self) -> list[RunRecord]:
        return self.snapshot()[1]

    def snapshot(self) -> tuple[int, list[RunRecord]]:
        """(generation, runs): the runs and the generation they belong to, together."""
        with self._lock:
            current, generation = self._records, self.generation
            age = self.monotonic() - self._read_at
            start_refresh = current is not None and age >= self.ttl_s and not self._refreshing
            if start_refresh:
                self._refreshing = True
        if current is None:
            return self._reread()
        if start_refresh:
            threading.Thread(target=self._reread, name="wbrun-ui-refresh", daemon=True).start()
        return generation, current

    def _reread(self) -> tuple[int, list[RunRecord]]:
        with self._read_lock:
            try:
                fresh = list(self.store.iter_runs()) if self.store.root.is_dir() else []
            except Exception:
                with self._lock:
                    self._refreshing = False
                raise
            mark = _fingerprint(fresh)
            with self._lock:
                if self._records is None or mark != self._fingerprint:
                    self._records, self._fingerprint = fresh, mark
                    self.generation += 1
                self._read_at = self.monotonic()
                self._refreshing = False
                return self.generation, self._records

    def forget(self) -> None:
        """After a change made through the server: the next request reads the store."""
        with self._lock:
            self._records = None

    def memo(self, generation: int, key: tuple, compute: Callable[[], Any]) -> Any:
        """`compute()` once per snapshot `generation` and `key` (a few dozen kept)."""
        full = (generation, *key)
        with self._lock:
            if full in self._memo:
                return self._memo[full]
        value = compute()
        with self._lock:
            if len(self._memo) >= self._memo_size:
                self._memo.pop(next(iter(self._memo)))
            self._memo[full] = value
        return value

    def run(self, run_id: str) -> RunRecord:
        """The run with exactly this ID, read now; RunNotFound for anything else."""
        from wandb_cli.store.ids import validate_id

        try:
            validate_id(run_id)
        except UsageError:
            raise RunNotFound(f"no run with ID {run_id!r}") from None
        run_dir = self.store.dir_of(run_id) if self.store.root.is_dir() else None
        if run_dir is None:
            raise RunNotFound(f"no run with ID {run_id!r}")
        return self.store.read(run_dir)


def _fingerprint(records: list[RunRecord]) -> int:
    """What a listing shows changes this (a live run's heartbeat, every 5 s, included)."""
    return hash(tuple((r.id, r.state, r.name, r.project, r.heartbeat, r.ended, r.notes, r.group,
                       tuple(r.tags), len(r.summary), len(r.config)) for r in records))


# -- projects and runs ---------------------------------------------------------------------
def projects(records: list[RunRecord]) -> list[dict[str, Any]]:
    """Per project: run count, runs per state, last activity (newest start, beat or end)."""
    from wandb_cli.query.group import count_states

    by_project: dict[str, list[RunRecord]] = {}
    for record in records:
        by_project.setdefault(record.project, []).append(record)
    out = []
    for name, runs in by_project.items():
        last = max(max(r.created, r.heartbeat or 0, r.ended or 0) for r in runs)
        out.append({"name": name, "runs": len(runs), "states": count_states(runs),
                    "last_activity": iso(last)})
    return sorted(out, key=lambda p: p["last_activity"] or "", reverse=True)


def _split(text: str | None) -> list[str]:
    from wandb_cli.views.columns import split_keys

    return split_keys(text) if text and text.strip() else []


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text in (None, ""):
        return default
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"bad {name} {text!r}: give a whole number") from None
    if not low <= value <= high:
        raise UsageError(f"bad {name} {value}: give {low} to {high}")
    return value


def runs_page(records: list[RunRecord], params: Mapping[str, str]) -> dict[str, Any]:
    """`runs ls` over HTTP: filtered, searched, sorted (or grouped), one page of rows with
    the columns' raw values, and the total before paging.  The default columns are those
    `runs ls --limit` shows: chosen over the rows listed (this page)."""
    from wandb_cli.query.filter import KeyResolver, narrow_runs
    from wandb_cli.views import columns as runs_table

    sort = _split(params.get("sort"))
    group_by = _split(params.get("group_by"))
    offset = _int(params, "offset", 0, 0, 10**9)
    limit = _int(params, "limit", DEFAULT_LIMIT, 0, MAX_LIMIT)
    chosen, total = narrow_runs(
        records, project=params.get("project") or None, state=params.get("state") or None,
        filter_expr=params.get("filter") or None, search=params.get("search") or None, sort=sort)
    page = chosen[offset:offset + limit]
    specs = [(key, key) for key in _split(params.get("columns"))] or [
        (key, header) for key, header, _priority in runs_table.default_keys(page, sort=sort)]
    keys = [key for key, _header in specs]
    resolver = KeyResolver(chosen)
    getters = [(key, resolver.getter(key)) for key in keys]
    answer: dict[str, Any] = {
        "total": total, "offset": offset, "limit": limit, "columns": keys,
        "headers": dict(specs), "rows": [_row(record, getters) for record in page],
    }
    if group_by:
        answer["groups"] = _groups(chosen, group_by, keys, sort)
    return answer


def known_keys(records: list[RunRecord], project: str | None) -> dict[str, list[str]]:
    """The config and summary keys of a project's runs (all runs: None), for the column menu."""
    from wandb_cli.query.filter import collect_keys

    known = collect_keys(records if not project else [r for r in records if r.project == project])
    return {"config": sorted(known.config), "summary": sorted(known.summary)}


def _row(record: RunRecord, getters: list) -> dict[str, Any]:
    cells = {}
    for key, get in getters:
        value = get(record)
        cells[key] = iso(value) if key in ("created", "ended") and value is not None else value
    return {"id": record.id, "name": record.name, "state": record.state,
            "project": record.project, "created": iso(record.created), "tags": list(record.tags),
            "notes": record.notes, "group": record.group, "cells": cells}


def _groups(chosen: list[RunRecord], group_by: list[str], keys: list[str], sort: list[str]) -> list:
    """The groups of `runs ls --group-by` (their counts, states and the numeric columns'
    mean, min, max and std)."""
    from wandb_cli.query.group import group_runs
    from wandb_cli.views import columns as runs_table
    from wandb_cli.views import group_table

    stats = group_table.stat_columns(runs_table.run_columns(chosen, columns=keys, sort=sort, cells=False),
                                     group_by)
    groups = group_runs(chosen, group_by, stats=[c.key for c in stats], sort=sort)
    return [g.to_dict() for g in groups]


# -- one run -------------------------------------------------------------------------------
def run_detail(view: StoreView, record: RunRecord) -> dict[str, Any]:
    """W&B's Overview facts: the record, its metadata (command, host, OS, Python, git,
    hardware, version), files, artifacts, media, and the keys its history and events hold."""
    from wandb_cli.store import jsonio
    from wandb_cli.store.mediafiles import list_media

    paths = RunPaths(Path(record.dir))
    try:
        meta = jsonio.read_json(paths.file(METADATA), {}) or {}
    except ValueError:
        meta = {}
    history = view.series.columns(paths.file(HISTORY))
    events = view.series.columns(paths.file(EVENTS))
    return {
        **record.to_dict(), "author": record.entity, "description": record.notes,
        "command_line": record.command_line, "started": iso(record.created),
        "metadata": meta if isinstance(meta, dict) else {},
        "history_keys": [k for k in history.values if not k.startswith("_")],
        "history_rows": history.rows,
        "system_keys": [k for k in events.values if not k.startswith("_")],
        "files": list_files(record), "artifacts": artifacts(view, record),
        "media": list_media(paths.files),
    }


def list_files(record: RunRecord) -> list[dict[str, Any]]:
    """Every regular file under the run's files/ folder (links out of it left out)."""
    root = os.path.realpath(RunPaths(Path(record.dir)).files)
    out = []
    for folder, _dirs, names in os.walk(root):
        for name in sorted(names):
            full = os.path.join(folder, name)
            if name.startswith(".") or not _inside(root, full):
                continue
            try:
                size = os.path.getsize(full)
            except OSError:
                continue
            out.append({"path": os.path.relpath(full, root).replace(os.sep, "/"), "size": size})
    return out


def _inside(root: str, path: str) -> bool:
    real = os.path.realpath(path)
    return real != root and os.path.commonpath([root, real]) == root and os.path.isfile(real)


def file_path(record: RunRecord, relative: str) -> Path:
    """The file `relative` names under the run's files/ folder; RunNotFound for anything
    that is not a regular file inside it (`..`, absolute paths, links leading out)."""
    root = os.path.realpath(RunPaths(Path(record.dir)).files)
    parts = relative.replace("\\", "/").split("/")
    if not relative or relative.startswith("/") or any(p in ("", ".", "..") for p in parts) \
            or "\x00" in relative:
        raise RunNotFound(f"no file {relative!r} in run {record.id}")
    full = os.path.join(root, *parts)
    if not _inside(root, full):
        raise RunNotFound(f"no file {relative!r} in run {record.id}")
    return Path(os.path.realpath(full))


def artifacts(view: StoreView, record: RunRecord) -> dict[str, list[dict]]:
    """The artifact versions the run used and made, with their aliases where known."""
    from wandb_cli.artifacts.store import runs_artifacts

    inputs, outputs = runs_artifacts(view.store.root, record.id)
    return {role: [{"ref": m.ref, "type": m.type, "size": m.size,
                    "aliases": list(getattr(m, "aliases", []) or [])} for m in manifests]
            for role, manifests in (("inputs", inputs), ("outputs", outputs))}


def history(view: StoreView, record: RunRecord, params: Mapping[str, str], *,
            system: bool = False) -> dict[str, Any]:
    """The run's history (or system samples) as downsampled series: see `series.series_of`."""
    paths = RunPaths(Path(record.dir))
    x = params.get("x") or ("_runtime" if system else "_step")
    # No x asked for: each metric against its define_metric step metric (W&B's default axis),
    # hidden metrics left out of the default charts; an explicit x puts all on that axis.
    step_metrics, hidden = ({}, []) if system or params.get("x") else _definitions(view, paths)
    after_text = params.get("after_step") or params.get("after")
    try:
        after = float(after_text) if after_text not in (None, "") else None
    except ValueError:
        raise UsageError(f"bad after_step {after_text!r}: give a number") from None
    keys = _split(params.get("keys")) or None
    answer = series.series_of(
        view.series, paths.file(EVENTS if system else HISTORY), keys=keys, x=x,
        max_points=series.check_max_points(params.get("max_points")), after=after,
        smooth_window=_int(params, "smooth", 1, 1, 10_000), step_metrics=step_metrics, hidden=hidden)
    answer["state"] = record.state
    if step_metrics:
        answer["step_metrics"] = {k: v for k, v in step_metrics.items() if k in answer["keys"]}
    if system:
        from wandb_cli.charts.panels import panel_title

        titles = {key: panel_title(key) for key in answer["keys"]}
        # W&B's charts (CPU, memory, GPU) first, then the other samples by name
        answer["keys"] = sorted(answer["keys"], key=lambda k: (titles[k] == k, k))
        answer["titles"] = titles
    return answer


def _definitions(view: StoreView, paths: RunPaths) -> tuple[dict[str, str], list[str]]:
    """(key -> its step metric, hidden keys) for the keys of the run's history, from its
    define_metric definitions (files/wandb-metrics.json; globs resolved per key)."""
    from wandb_cli.store.metrics import find_definition, read_definitions

    definitions = read_definitions(paths.files)
    if not definitions:
        return {}, []
    step_metrics, hidden = {}, []
    for key in view.series.columns(paths.file(HISTORY)).values:
        definition = find_definition(definitions, key) or {}
        if definition.get("step_metric"):
            step_metrics[key] = definition["step_metric"]
        if definition.get("hidden"):
            hidden.append(key)
    return step_metrics, hidden


def group_history(view: StoreView, params: Mapping[str, str]) -> dict[str, Any]:
    """Grouped charts: the runs `runs` split by `group_by` (the `runs ls --group-by` groups),
    and per group and metric the members' mean with its min-max band (`charts.data.group_band`,
    as `runs plot --group-by` draws it), each member smoothed first."""
    from wandb_cli.charts.data import group_band
    from wandb_cli.query.group import group_runs

    group_by = _split(params.get("group_by"))
    if not group_by:
        raise UsageError("give group_by, e.g. group_by=config.opt")
    ids = _split(params.get("runs"))
    records = [view.run(run_id) for run_id in ids[:MAX_LIMIT]]
    x = params.get("x") or "_step"
    points = series.check_max_points(params.get("max_points"))
    window = _int(params, "smooth", 1, 1, 10_000)
    keys = _split(params.get("keys"))
    files = {r.id: RunPaths(Path(r.dir)).file(HISTORY) for r in records}
    digests = {run_id: series.big_digest(path) for run_id, path in files.items()}  # (big runs)
    if not keys:
        found: dict[str, None] = {}
        for run_id, path in files.items():
            found.update(dict.fromkeys(k for k in series.member_keys(view.series, path, digests[run_id])
                                       if not k.startswith("_")))
        keys = [k for k in found if k != x]
    out = []
    for group in group_runs(records, group_by):
        label = ", ".join(group.labels)
        charts = {}
        for key in keys:  # (one key's members at a time: memory of one chart, not all)
            members = [series.member_series(view.series, files[r.id], key, x, smooth_window=window,
                                            max_points=points, digest=digests[r.id]) for r in group.runs]
            band = group_band(label, members, points)
            if band.xs:
                charts[key] = {"x": band.xs, "mean": band.mean, "lo": band.lo, "hi": band.hi,
                               "runs": band.runs}
        out.append({"label": label, "group": dict(zip(group.keys, group.values)),
                    "runs": [r.id for r in group.runs], "series": charts})
    return {"x": x, "keys": keys, "groups": out}


def logs(record: RunRecord, params: Mapping[str, str]) -> dict[str, Any]:
    offset = _int(params, "offset", 0, 0, 1 << 62)
    chunk = log_chunk(RunPaths(Path(record.dir)).file(OUTPUT), offset,
                      ended=record.state != RUNNING)
    return {**chunk, "state": record.state}


# -- actions -------------------------------------------------------------------------------
ACTIONS = ("tag", "untag", "notes", "rename", "stop", "delete", "restore")


def act(view: StoreView, run_id: str, action: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """One action on a run through `store.lifecycle` / `store.stopping`, as the CLI does."""
    from wandb_cli.store import lifecycle

    if action not in ACTIONS:
        raise RunNotFound(f"no action {action!r} (choose {', '.join(ACTIONS)})")
    store = view.store
    view.forget()
    if action == "restore":
        restored = lifecycle.restore_run(store, lifecycle.find_trashed(store, run_id))
        return {"ok": True, "dir": str(restored)}
    record = view.run(run_id)
    if action in ("tag", "untag"):
        tags = _strings(body, "tags")
        now = lifecycle.tag(store, record, tags if action == "tag" else (),
                            remove=tags if action == "untag" else ())
        return {"ok": True, "tags": now}
    if action == "notes":
        return {"ok": True, "notes": lifecycle.set_note(store, record, _text(body, "notes"))}
    if action == "rename":
        return {"ok": True, "name": lifecycle.rename(store, record, _text(body, "name"))}
    if action == "stop":
        from wandb_cli.store.stopping import request_stop

        request = request_stop(store, record)
        return {"ok": True, "already_ended": request.already_ended}
    if record.state == RUNNING:
        raise UsageError(f"run {record.id} is running: stop it first")
    lifecycle.delete_run(store, record)
    return {"ok": True}


def _strings(body: Mapping[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise UsageError(f"give {name} as a list of strings")
    return value


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise UsageError(f"give {name} as a string")
    return value
