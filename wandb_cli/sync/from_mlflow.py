"""Importing the runs of an MLflow tracking server (or sqlite/file store) into the store.

Through MLflow's client library, as the push (sync/to_mlflow.py).  A run that wbrun pushed
(it has a `wbrun.run_id` tag) comes back exactly: its `files/` artifacts hold the config,
summary, history and events documents, and its tags the attributes.  Any other MLflow run
maps the other way round: params to config (JSON values parsed, any other text kept as it
is), tags with a value to the config key `mlflow_tags`, metric histories to
history rows by step (`_timestamp` the latest point of the step), `system/` metrics to
system samples, the latest values to the summary, artifacts to files.
Invariant: the import mark is checked before anything is downloaded, so a second import of
the same server asks it for the run list only.
"""
from __future__ import annotations

import shlex
import tempfile
from pathlib import Path
from typing import Any, Iterator

from wandb_cli.errors import UsageError
from wandb_cli.store import jsonio
from wandb_cli.store.layout import CONFIG, EVENTS, HISTORY, METADATA, RUN_DOC, SUMMARY, Store
from wandb_cli.store.model import FAILED, FINISHED, KILLED, RUNNING
from wandb_cli.sync.importer import ForeignRun, ImportOutcome, imported_before, write_run
from wandb_cli.sync.mlflow_tags import RESERVED_PREFIXES, RUN_ID_TAG
from wandb_cli.sync.to_mlflow import SYSTEM_PREFIX, make_client, mlflow_errors

STATES = {"FINISHED": FINISHED, "FAILED": FAILED, "KILLED": KILLED, "RUNNING": RUNNING,
          "SCHEDULED": RUNNING}
MLFLOW_TAGS_KEY = "mlflow_tags"


def import_uri(store: Store, uri: str, *, experiments: list[str]) -> Iterator[ImportOutcome]:
    resolved, client = make_client(uri)
    with mlflow_errors(resolved):
        chosen = _experiments(client, experiments)
    for experiment in chosen:
        with mlflow_errors(resolved):
            runs = list(_runs(client, experiment.experiment_id))
        for run in runs:
            key = f"mlflow {resolved} {run.info.run_id}"
            previous = imported_before(store, key)
            if previous is not None:
                yield ImportOutcome(key, previous, run.info.run_id, created=False)
                continue
            with tempfile.TemporaryDirectory(prefix="wbrun-import-") as tmp:
                with mlflow_errors(resolved, run.info.run_id):
                    foreign = read_run(client, run, experiment.name, key, Path(tmp))
                yield write_run(store, foreign)


def _experiments(client: Any, names: list[str]) -> list:
    if not names:
        return list(client.search_experiments())
    found = []
    for name in names:
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise UsageError(f"no MLflow experiment named {name!r}")
        found.append(experiment)
    return found


def _runs(client: Any, experiment_id: str) -> Iterator[Any]:
    token = None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token,
                                  order_by=["attribute.start_time ASC"])
        yield from page
        token = page.token
        if not token:
            return


def _parse_param(text: str) -> Any:
    """A param's text as a config value: JSON values parsed (`0.01`, `true`, `[1, 2]`); any
    other text kept exactly, as is text that JSON would read only with a NaN or an
    infinity in it (`NaN`, `Infinity`, `1e999`: not JSON numbers) or with spaces around it."""
    if text != text.strip():
        return text
    try:
        value = jsonio.loads(text)
    except ValueError:
        return text
    return text if jsonio.has_nonfinite(value) else value


def _user_tags(tags: dict[str, str]) -> dict[str, str]:
    """Tags set in MLflow with a value, neither MLflow's (`mlflow.*`) nor wbrun's (`wbrun.*`):
    a W&B tag is a name only, so these are kept whole in the config key MLFLOW_TAGS_KEY."""
    return {key: value for key, value in sorted(tags.items())
            if value != "" and not key.startswith(RESERVED_PREFIXES)}


def read_run(client: Any, run: Any, experiment: str, key: str, tmp: Path) -> ForeignRun:
    info, tags = run.info, run.data.tags
    foreign = ForeignRun("mlflow", key, info.run_id, id=tags.get(RUN_ID_TAG) or info.run_id)
    foreign.name = tags.get("mlflow.runName") or info.run_name or None
    foreign.project = tags.get("wbrun.project") or experiment
    foreign.entity = tags.get("wbrun.entity") or tags.get("mlflow.user") or None
    foreign.group, foreign.job_type = tags.get("wbrun.group"), tags.get("wbrun.job_type")
    foreign.notes = tags.get("mlflow.note.content")
    foreign.host = tags.get("wbrun.host", "")
    foreign.command = shlex.split(tags["wbrun.command"]) if tags.get("wbrun.command") else []
    foreign.tags = _tags(tags)
    foreign.created = (info.start_time or 0) / 1000
    foreign.ended = info.end_time / 1000 if info.end_time else None
    foreign.state = STATES.get(info.status, FAILED)
    if tags.get("wbrun.state") in ("crashed", "running") or foreign.state == RUNNING:
        foreign.state, foreign.ended = RUNNING, None  # read as crashed unless it still beats
    foreign.heartbeat = (info.end_time or info.start_time or 0) / 1000
    foreign.config = {k: _parse_param(v) for k, v in run.data.params.items()}
    foreign.summary = {k: v for k, v in run.data.metrics.items() if not k.startswith(SYSTEM_PREFIX)}
    files = _download(client, info.run_id, tmp)
    if RUN_ID_TAG in tags and (tmp / "files" / HISTORY).exists():
        _from_wbrun_files(foreign, tmp / "files")
    else:
        _from_metrics(client, foreign, run)
    foreign.files = files
    user_tags = _user_tags(tags)
    if user_tags and MLFLOW_TAGS_KEY not in foreign.config:  # (a param of that name wins)
        foreign.config[MLFLOW_TAGS_KEY] = user_tags
    return foreign


def _tags(tags: dict) -> list[str]:
    if "wbrun.tags" in tags:
        try:
            listed = jsonio.loads(tags["wbrun.tags"])
            return [str(t) for t in listed] if isinstance(listed, list) else []
        except ValueError:
            pass
    return [k for k, v in tags.items() if v == "" and not k.startswith(RESERVED_PREFIXES)]


def _download(client: Any, run_id: str, tmp: Path) -> dict[str, Path]:
    """Every artifact, as paths under files/ (a wbrun run's `files/` folder as itself;
    the versions under `artifacts/` stay out: they belong to the artifact store)."""
    if not client.list_artifacts(run_id):
        return {}
    client.download_artifacts(run_id, "", str(tmp))
    found: dict[str, Path] = {}
    for path in sorted(p for p in tmp.rglob("*") if p.is_file()):
        relative = path.relative_to(tmp).as_posix()
        if relative.startswith("artifacts/"):
            continue
        found[relative[len("files/"):] if relative.startswith("files/") else relative] = path
    return found


def _from_wbrun_files(foreign: ForeignRun, files: Path) -> None:
    """A run wbrun pushed: its own documents are exact (types, nesting, every row)."""
    for name, attribute in ((CONFIG, "config"), (SUMMARY, "summary"), (METADATA, "metadata")):
        try:
            value = jsonio.read_json(files / name, None)
        except ValueError:
            value = None
        if isinstance(value, dict):
            setattr(foreign, attribute, value)
    try:
        doc = jsonio.read_json(files / RUN_DOC, None)
    except ValueError:
        doc = None
    if isinstance(doc, dict):  # exact times and exit code (MLflow keeps milliseconds)
        for key, types in (("created", (int, float)), ("ended", (int, float)),
                           ("heartbeat", (int, float)), ("exit_code", (int,))):
            if isinstance(doc.get(key), types) and (key != "ended" or foreign.ended is not None):
                setattr(foreign, key, doc[key])
    foreign.history = list(jsonio.iter_jsonl(files / HISTORY))
    foreign.events = list(jsonio.iter_jsonl(files / EVENTS))


def _from_metrics(client: Any, foreign: ForeignRun, run: Any) -> None:
    rows: dict[int, dict] = {}
    samples: dict[int, dict] = {}
    for key in run.data.metrics:
        for point in client.get_metric_history(run.info.run_id, key):
            stamp = point.timestamp / 1000
            if key.startswith(SYSTEM_PREFIX):
                sample = samples.setdefault(point.timestamp, {})
                sample["system." + key[len(SYSTEM_PREFIX):]] = point.value
                sample["_timestamp"] = stamp
                continue
            row = rows.setdefault(point.step, {})
            row[key] = point.value
            row["_timestamp"] = max(row.get("_timestamp", stamp), stamp)
    for step in sorted(rows):
        row = rows[step]
        stamp = row.pop("_timestamp")
        foreign.history.append({**row, "_step": step,
                                "_runtime": round(max(0.0, stamp - foreign.created), 3),
                                "_timestamp": stamp})
    for stamp_ms in sorted(samples):
        sample = samples[stamp_ms]
        sample["_runtime"] = round(max(0.0, sample["_timestamp"] - foreign.created), 3)
        foreign.events.append(sample)
