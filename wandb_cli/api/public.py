"""`Api`, `Runs`, `Run`, `File`, `Artifact`: W&B's public read API over the local store.

Semantics follow W&B's `wandb.apis.public` where the local store allows: `runs()` takes a
path ("entity/project", "project", or None for every run), W&B's MongoDB-style `filters`
(api/mongo.py) or a wbrun `--filter` string, and `order` ("+created_at" by default);
`history()` samples at most `samples` rows, keeping the first and last, and with `keys` only
rows holding every key (columns: `x_axis` then the keys); `scan_history()` streams every
row from the file.  Invariant: reads only; a run is read once when listed and its history
only when asked for.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any, Iterator, Sequence

from wandb_cli.errors import RunNotFound, UsageError
from wandb_cli.store import jsonio
from wandb_cli.store.layout import EVENTS, HISTORY, RunPaths, Store, resolve_root
from wandb_cli.store.model import RunRecord, iso


class Api:
    """The store at `dir` (else $WBRUN_DIR, else ./wandb), read the way `wandb.Api()` reads W&B.
    `overrides` may hold "dir", "entity" and "project" defaults, as W&B's do."""

    def __init__(self, overrides: dict | None = None, timeout: int | None = None,
                 api_key: str | None = None, *, dir: str | os.PathLike | None = None):
        overrides = dict(overrides or {})
        self.store = Store(resolve_root(dir or overrides.get("dir")))
        self.default_entity: str | None = overrides.get("entity")
        self.default_project: str | None = overrides.get("project")

    def _split(self, path: str | None) -> tuple[str | None, str | None]:
        if not path:
            return self.default_entity, self.default_project
        parts = [p for p in str(path).strip("/").split("/") if p]
        if len(parts) == 1:
            return self.default_entity, parts[0]
        if len(parts) == 2:
            return parts[0], parts[1]
        raise UsageError(f"bad runs path {path!r}: give 'entity/project' or 'project'")

    def runs(self, path: str | None = None, filters: dict | str | None = None,
             order: str = "+created_at", per_page: int = 50, include_sweeps: bool = False,
             lazy: bool = True) -> Runs:
        """The runs of a project, filtered and ordered as W&B's `Api.runs`."""
        from wandb_cli.api.mongo import compile_filters, order_by

        entity, project = self._split(path)
        records = [r for r in self.store.iter_runs()
                   if (project is None or r.project == project) and (entity is None or r.entity == entity)]
        if isinstance(filters, str):
            from wandb_cli.query.filter import compile_filter

            matches = compile_filter(filters, records)
            records = [r for r in records if matches(r)]
        elif filters:
            matches = compile_filters(filters)
            records = [r for r in records if matches(r)]
        return Runs(self, order_by(records, order), entity, project)

    def run(self, path: str = "") -> Run:
        """One run by "entity/project/id", "project/id", "entity/project/runs/id" or its ID."""
        parts = [p for p in str(path).strip("/").split("/") if p and p != "runs"]
        if not parts or len(parts) > 3:
            raise UsageError(f"bad run path {path!r}: give 'entity/project/run_id'")
        run_id = parts[-1]
        entity = parts[0] if len(parts) == 3 else self.default_entity
        project = parts[-2] if len(parts) >= 2 else self.default_project
        run_dir = self.store.dir_of(run_id)
        if run_dir is None:
            raise RunNotFound(f"no run {path!r} in {self.store.root}")
        record = self.store.read(run_dir)
        if (project is not None and record.project != project) or \
                (entity is not None and record.entity != entity):
            raise RunNotFound(f"no run {path!r} in {self.store.root} (run {run_id} is {record.path})")
        return Run(self, record)

    def artifact(self, name: str, type: str | None = None) -> Artifact:
        from wandb_cli.artifacts.store import resolve

        ref = name.split("/")[-1]
        return Artifact(self, resolve(self.store.root, ref if ":" in ref else f"{ref}:latest"))


class Runs(Sequence):
    """The runs `Api.runs` found, in order (a list you can index, slice, len() and iterate)."""

    def __init__(self, api: Api, records: list[RunRecord], entity: str | None, project: str | None):
        self.api, self.entity, self.project = api, entity, project
        self._runs = [Run(api, record) for record in records]

    def __len__(self) -> int:
        return len(self._runs)

    def __getitem__(self, index):
        return self._runs[index]

    def __iter__(self) -> Iterator[Run]:
        return iter(self._runs)

    @property
    def length(self) -> int:
        return len(self._runs)

    def histories(self, samples: int = 500, keys: list[str] | None = None, x_axis: str = "_step",
                  format: str = "default", stream: str = "default"):
        """Every run's sampled history with a `run_id` column, as W&B's `Runs.histories`."""
        rows = []
        for run in self._runs:
            for row in run.history(samples=samples, keys=keys, x_axis=x_axis, pandas=False, stream=stream):
                rows.append({**row, "run_id": run.id})
        return _frame(rows) if format == "pandas" else rows

    def __repr__(self) -> str:
        return f"<Runs {self.entity or '*'}/{self.project or '*'} ({len(self)})>"


def _frame(rows: list[dict]):
    """A pandas DataFrame of `rows`, or the rows themselves when pandas is not installed."""
    try:
        import pandas
    except ImportError:
        print("wbrun: warning: pandas is not installed: history is a list of dicts "
              "(pip install pandas, or call history(pandas=False))", file=sys.stderr)
        return rows
    return pandas.DataFrame.from_records(rows)


def sample_rows(rows: list[dict], samples: int) -> list[dict]:
    """At most `samples` rows, evenly spaced, keeping the first and the last."""
    if samples <= 0:
        return []
    if len(rows) <= samples:
        return rows
    if samples == 1:
        return [rows[-1]]
    last = len(rows) - 1
    picks = sorted({round(i * last / (samples - 1)) for i in range(samples)})
    return [rows[i] for i in picks]


class HistoryScan:
    """Every history row of a run, streamed from its file (`Run.scan_history`)."""

    def __init__(self, path: Path, keys: list[str] | None, min_step: int, max_step: int | None):
        self.path, self.keys, self.min_step, self.max_step = path, keys, min_step, max_step

    def __iter__(self) -> Iterator[dict]:
        for row in jsonio.iter_jsonl(self.path):
            step = row.get("_step")
            if isinstance(step, int) and (step < self.min_step or
                                          (self.max_step is not None and step >= self.max_step)):
                continue
            if self.keys:
                if not all(key in row for key in self.keys):
                    continue
                row = {key: row[key] for key in self.keys}
            yield row


class Run:
    """One run, read from the store when it was found (`load()` reads it again)."""

    def __init__(self, api: Api, record: RunRecord):
        self.api, self._record = api, record

    # --- attributes, as W&B names them -----------------------------------------------
    id = property(lambda self: self._record.id)
    name = property(lambda self: self._record.name)
    display_name = property(lambda self: self._record.name)
    state = property(lambda self: self._record.state)
    entity = property(lambda self: self._record.entity)
    project = property(lambda self: self._record.project)
    group = property(lambda self: self._record.group)
    job_type = property(lambda self: self._record.job_type)
    notes = property(lambda self: self._record.notes)
    tags = property(lambda self: list(self._record.tags))
    config = property(lambda self: dict(self._record.config))
    summary = property(lambda self: dict(self._record.summary))
    summary_metrics = summary
    created_at = property(lambda self: iso(self._record.created))
    heartbeat_at = property(lambda self: iso(self._record.heartbeat))
    host = property(lambda self: self._record.host)
    dir = property(lambda self: self._record.dir)
    slurm = property(lambda self: dict(self._record.slurm))
    dist = property(lambda self: dict(self._record.dist))

    @property
    def path(self) -> list[str]:
        return [self.entity, self.project, self.id]

    @property
    def url(self) -> str:
        return Path(self._record.dir).resolve().as_uri()

    @property
    def lastHistoryStep(self) -> int:  # W&B's name
        last = jsonio.last_jsonl_row(RunPaths(Path(self.dir)).file(HISTORY)) or {}
        step = last.get("_step")
        return step if isinstance(step, int) else -1

    def load(self, force: bool = False) -> Run:
        self._record = self.api.store.read(Path(self.dir))
        return self

    def to_dict(self) -> dict:
        return self._record.to_dict()

    # --- history ---------------------------------------------------------------------
    def _rows(self, stream: str) -> list[dict]:
        if stream not in ("default", "system"):
            raise UsageError(f"bad stream {stream!r}: choose default or system")
        name = HISTORY if stream == "default" else EVENTS
        return list(jsonio.iter_jsonl(RunPaths(Path(self.dir)).file(name)))

    def history(self, samples: int = 500, keys: list[str] | None = None, x_axis: str = "_step",
                pandas: bool = True, stream: str = "default"):
        """Sampled history rows: a DataFrame when pandas is installed (else a list of dicts)."""
        if keys is not None and (not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)):
            raise UsageError("keys must be a list of strings")
        rows = self._rows(stream)
        if keys:
            wanted = [x_axis, *[k for k in keys if k != x_axis]]
            rows = [{k: row[k] for k in wanted} for row in rows if all(k in row for k in wanted)]
        rows = sample_rows(rows, samples)
        return _frame(rows) if pandas else rows

    def scan_history(self, keys: list[str] | None = None, page_size: int = 1000,
                     min_step: int = 0, max_step: int | None = None) -> HistoryScan:
        """Every row (no sampling), streamed; with `keys`, rows holding all of them."""
        return HistoryScan(RunPaths(Path(self.dir)).file(HISTORY), keys, min_step, max_step)

    # --- files and artifacts -----------------------------------------------------------
    def files(self, names: list[str] | None = None, pattern: str | None = None,
              per_page: int = 50) -> list[File]:
        from fnmatch import fnmatch

        from wandb_cli.artifacts.runfiles import list_run_files

        found = [File(self, f.path, f.size, f.modified) for f in list_run_files(Path(self.dir))]
        if names:
            found = [f for f in found if f.name in names]
        if pattern:
            found = [f for f in found if fnmatch(f.name, pattern)]
        return found

    def file(self, name: str) -> File:
        for found in self.files(names=[name]):
            return found
        raise RunNotFound(f"run {self.id} has no file {name!r}")

    def logged_artifacts(self, per_page: int = 100) -> list[Artifact]:
        from wandb_cli.artifacts.store import runs_artifacts

        _used, produced = runs_artifacts(self.api.store.root, self.id)
        return [Artifact(self.api, manifest) for manifest in produced]

    def used_artifacts(self, per_page: int = 100) -> list[Artifact]:
        from wandb_cli.artifacts.store import runs_artifacts

        used, _produced = runs_artifacts(self.api.store.root, self.id)
        return [Artifact(self.api, manifest) for manifest in used]

    def __repr__(self) -> str:
        return f"<Run {'/'.join(self.path)} ({self.state})>"


class File:
    """A file under a run's files/ folder."""

    def __init__(self, run: Run, name: str, size: int, modified: float):
        self.run, self.name, self.size = run, name, size
        self.updated_at = iso(modified)
        self.path = str(Path(run.dir) / "files" / name)
        self.url = self.direct_url = Path(self.path).resolve().as_uri()

    def download(self, root: str = ".", replace: bool = False, exist_ok: bool = False):
        """Copy the file to `root`/name; an existing copy is an error unless replace/exist_ok."""
        target = Path(root) / self.name
        if target.exists() and not replace:
            if exist_ok:
                return open(target)
            raise UsageError(f"{target} exists: pass replace=True")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.path, target)
        return open(target)

    def __repr__(self) -> str:
        return f"<File {self.name} ({self.size} bytes)>"


class Artifact:
    """One artifact version of the store (W&B's `name:vN`)."""

    def __init__(self, api: Api, manifest: Any):
        self.api, self.manifest = api, manifest
        self.name = manifest.ref
        self.source_name = manifest.ref
        self.type, self.size, self.digest = manifest.type, manifest.size, manifest.digest
        self.version = f"v{manifest.version}"
        self.aliases = list(manifest.aliases)
        self.created_at = iso(manifest.created)
        self.producer_run_id = manifest.producer_run

    def files(self) -> list[str]:
        return [entry.path for entry in self.manifest.files]

    def download(self, root: str | None = None) -> str:
        from wandb_cli.artifacts.store import get_artifact

        target = Path(root) if root else Path("artifacts") / self.name.replace(":", "-")
        get_artifact(self.api.store.root, self.name, target)
        return str(target)

    def __repr__(self) -> str:
        return f"<Artifact {self.name} ({self.type})>"
