"""Pushing wbrun runs to an MLflow tracking server (or an MLflow sqlite/file store).

Talks through MLflow's own client library (`MlflowClient`): the same code then serves
`http(s)://` servers, `sqlite:///` databases and local folders, and the client carries
MLflow's authentication (MLFLOW_TRACKING_TOKEN, basic auth, TLS settings) and retries, which
a hand-written REST client would have to copy.

Invariants: one MLflow run per wbrun run, found again by its `wbrun.run_id` tag; the local
sync record (sync/record.py) and the run's own `wbrun.synced_step` / `wbrun.synced_events`
tags say how far it was pushed, so a second push sends only what is new.  Every request
stays within MLflow's batch limits (sync/batching.py).  Params are immutable in MLflow: a
config value changed after its first push is reported and listed in the
`wbrun.changed_params` tag, never dropped silently.
"""
from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from wandb_cli.errors import RemoteError, StoreError, UsageError
from wandb_cli.store import jsonio
from wandb_cli.store.model import CORRUPT, CRASHED, FAILED, FINISHED, KILLED, RUNNING, RunRecord
from wandb_cli.sync import source
from wandb_cli.sync.batching import Batch, batches
from wandb_cli.sync.mlflow_tags import (
    EVENTS_TAG,
    RUN_ID_TAG,
    STEP_TAG,
    desired_tags,
    key_problem,
    managed_tags,
    param_text,
    valid_key,
)
from wandb_cli.sync.record import SyncRecord, SyncRecords

STATUS = {FINISHED: "FINISHED", FAILED: "FAILED", CRASHED: "FAILED", KILLED: "KILLED",
          RUNNING: "RUNNING"}
MAX_PARAM_VALUE = 6000  # mlflow.utils.validation.MAX_PARAM_VAL_LENGTH
MAX_TAG_VALUE = 8000
SYSTEM_PREFIX = "system/"


def same_number(sent: float | None, value: float) -> bool:
    """`sent == value`, with NaN equal to NaN (else a NaN summary value is new at every push)."""
    return sent == value or (sent is not None and math.isnan(sent) and math.isnan(value))


def ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(round(seconds * 1000))


def make_client(uri: str):
    """(the tracking URI as MLflow takes it, an MlflowClient for it)."""
    source.need("mlflow", "mlflow")
    from mlflow.tracking import MlflowClient

    quiet_mlflow()
    resolved = tracking_uri(uri)
    if resolved.startswith("file:"):
        # a folder named on the command line is a choice: MLflow 3 refuses its file store
        # unless told it is one
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    with mlflow_errors(resolved):
        return resolved, MlflowClient(tracking_uri=resolved)


def tracking_uri(uri: str) -> str:
    """A server URL or database URI as given; a local folder as a file: URI."""
    if "://" in uri or uri.startswith(("sqlite:", "databricks")):
        return uri
    return Path(uri).expanduser().resolve().as_uri()


@dataclass
class PushResult:
    run_id: str
    remote_id: str
    experiment: str
    created: bool = False
    rows: int = 0
    metrics: int = 0
    params: int = 0
    tags: int = 0
    files: int = 0
    requests: int = 0
    status: str = ""
    notes: list[str] = field(default_factory=list)  # what the user must know (changed params...)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.metrics or self.params or self.tags or self.files)


class MlflowTarget:
    """One tracking URI; `experiment` names the experiment for every run (else its project)."""

    def __init__(self, uri: str, *, experiment: str | None = None, store_root: Path,
                 report: Callable[[str], None] = lambda _line: None):
        self.uri, self.client = make_client(uri)
        self.experiment = experiment
        self.store_root = Path(store_root)
        self.records = SyncRecords(self.store_root, f"mlflow {self.uri} {experiment or ''}", "mlflow")
        self.report = report
        self._experiments: dict[str, str] = {}

    # --- finding or making the remote run ------------------------------------------------
    def experiment_id(self, name: str) -> str:
        if name not in self._experiments:
            found = self.client.get_experiment_by_name(name)
            if found is not None and found.lifecycle_stage == "deleted":
                raise UsageError(f"the MLflow experiment {name!r} is deleted: restore it or "
                                 "pass another --experiment")
            self._experiments[name] = found.experiment_id if found else self.client.create_experiment(name)
        return self._experiments[name]

    def find_remote(self, experiment_id: str, run_id: str):
        runs = self.client.search_runs([experiment_id], filter_string=f"tags.`{RUN_ID_TAG}` = '{run_id}'",
                                       max_results=2)
        return runs[0] if runs else None

    def open_remote(self, record: RunRecord, experiment_id: str) -> tuple[SyncRecord, bool]:
        """The sync record for `record`, its remote run made or found; True when made now."""
        sync = self.records.load(record.id)
        if sync and sync.remote_id and self._exists(sync.remote_id):
            return sync, False
        remote = self.find_remote(experiment_id, record.id)
        if remote is not None:  # pushed before, local record lost: resume from the run's tags
            tags = remote.data.tags
            adopted = SyncRecord(record.id, remote.info.run_id, step=int(tags.get(STEP_TAG, -1)),
                                 events=int(tags.get(EVENTS_TAG, 0)), params=dict(remote.data.params),
                                 # only tags wbrun sets (now, or when it pushed: so one
                                 # removed since is deleted), never MLflow's or a user's own
                                 tags={**{k: v for k, v in tags.items() if k in desired_tags(record)},
                                       **managed_tags(tags)},
                                 status=remote.info.status)
            adopted.extra["history_keys"] = sorted(remote.data.metrics)
            adopted.extra["end_time"] = remote.info.end_time
            adopted.summary = dict(remote.data.metrics)  # latest values: a summary point sent once
            return adopted, False
        run = self.client.create_run(experiment_id, start_time=ms(record.created),
                                     tags={RUN_ID_TAG: record.id}, run_name=record.name)
        return SyncRecord(record.id, run.info.run_id, status="RUNNING"), True

    def _exists(self, remote_id: str) -> bool:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_run(remote_id).info.lifecycle_stage != "deleted"
        except MlflowException:
            return False

    # --- pushing ---------------------------------------------------------------------
    def push(self, record: RunRecord) -> PushResult:
        """Bring the MLflow run of `record` up to date; only what is new is sent."""
        if record.state == CORRUPT:
            raise StoreError(f"run {record.id} is unreadable ({'; '.join(record.problems)}): not pushed")
        name = self.experiment or record.project
        with mlflow_errors(self.uri, record.id):
            sync, created = self.open_remote(record, self.experiment_id(name))
            result = PushResult(record.id, sync.remote_id or "", name, created=created)
            self._push_params_and_tags(record, sync, result)
            self._push_metrics(record, sync, result)
            self._push_files(record, sync, result)
            self._push_status(record, sync, result)
        self.records.save(sync)
        return result

    def _log(self, sync: SyncRecord, batch: Batch, result: PushResult) -> None:
        from mlflow.entities import Metric, Param, RunTag

        self.client.log_batch(
            _remote(sync), metrics=[Metric(k, v, t, s) for _, k, v, t, s in batch.metrics],
            params=[Param(k, v) for _, k, v in batch.params],
            tags=[RunTag(k, v) for _, k, v in batch.tags], synchronous=True)
        result.requests += 1

    def _push_params_and_tags(self, record: RunRecord, sync: SyncRecord, result: PushResult) -> None:
        items: list[tuple] = []
        changed: dict[str, str] = dict(jsonio.loads(sync.tags.get("wbrun.changed_params", "{}")))
        for key, value in source.flatten(source.whole_documents(record)[0]).items():
            text = param_text(value)
            if key in sync.params:
                if sync.params[key] != text and changed.get(key) != text:
                    changed[key] = text
                    result.notes.append(f"config {key} changed from {sync.params[key]!r} to {text!r} "
                                        "after it was pushed; MLflow params cannot change: listed in "
                                        "the wbrun.changed_params tag")
                continue
            if not valid_key(key) or len(text) > MAX_PARAM_VALUE:
                if key not in sync.extra.setdefault("not_params", []):
                    sync.extra["not_params"].append(key)
                    why = key_problem(key) or \
                        f"is {len(text)} characters, over MLflow's {MAX_PARAM_VALUE}"
                    result.notes.append(f"config {key} {why}: kept in the files/config.json artifact")
                continue
            items.append(("param", key, text))
        tags = desired_tags(record)
        if changed:
            tags["wbrun.changed_params"] = jsonio.dumps(changed).decode()
        if sync.extra.get("not_params"):
            tags["wbrun.config_artifact"] = "files/config.json"
        for key, whole in tags.items():
            value = whole[:MAX_TAG_VALUE]
            if sync.tags.get(key) != value:
                items.append(("tag", key, value))
                if value != whole:  # said when sent, not at every push of an unchanged run
                    result.notes.append(f"tag {key} is {len(whole)} characters: cut to {MAX_TAG_VALUE}")
        for batch in batches(items):
            self._log(sync, batch, result)
            sync.params.update({k: v for _, k, v in batch.params})
            sync.tags.update({k: v for _, k, v in batch.tags})
            result.params += len(batch.params)
            result.tags += len(batch.tags)
        for key in [k for k in sync.tags if k not in tags and k != RUN_ID_TAG]:
            self.client.delete_tag(_remote(sync), key)  # a wbrun tag removed since the last push
            del sync.tags[key]
            result.tags += 1

    def _push_metrics(self, record: RunRecord, sync: SyncRecord, result: PushResult) -> None:
        history_keys = self._push_history(record, sync, result)
        events_read = {"count": sync.events}
        self._send_metrics(sync, self._event_items(record, sync, events_read), result,
                           on_batch=lambda b: setattr(sync, "events", b.metrics[-1][4]))
        sync.events = events_read["count"]
        self._send_metrics(sync, self._summary_items(record, sync, history_keys), result)
        progress = Batch(tags=[("tag", STEP_TAG, str(sync.step)), ("tag", EVENTS_TAG, str(sync.events))])
        if result.metrics:
            self._log(sync, progress, result)

    def _push_history(self, record: RunRecord, sync: SyncRecord, result: PushResult) -> set:
        """History rows after the last step pushed; returns every key the history holds."""
        history_keys: set = set(sync.extra.get("history_keys", []))
        sent_keys = set(history_keys)
        last = {"step": sync.step}

        def sent(batch: Batch) -> None:
            # the record saved after this batch says these keys are history: a push cut
            # short and retried must not take a key seen only in rows already sent (a
            # warmup value logged early) for a summary-only one and add a point at the end
            sent_keys.update(key for _, key, *_ in batch.metrics)
            sync.extra["history_keys"] = sorted(sent_keys)
            sync.step = batch.metrics[-1][4] - 1  # that row may go on in the next batch

        def items() -> Iterator[tuple]:
            for row in source.iter_history(record.dir):
                step = row.get("_step")
                if not isinstance(step, int) or step <= sync.step:
                    continue
                stamp = ms(row.get("_timestamp")) or ms(record.created) or 0
                result.rows += 1
                for key, value in source.numeric_items(row):
                    if valid_key(key):
                        history_keys.add(key)
                        yield ("metric", key, value, stamp, step)
                last["step"] = step

        self._send_metrics(sync, items(), result, on_batch=sent)
        sync.step = last["step"]
        sync.extra["history_keys"] = sorted(history_keys)
        return history_keys

    def _send_metrics(self, sync: SyncRecord, items: Iterator[tuple], result: PushResult,
                      on_batch: Callable[[Batch], None] | None = None) -> None:
        for batch in batches(items):
            self._log(sync, batch, result)
            result.metrics += len(batch.metrics)
            if on_batch is not None:
                on_batch(batch)
                self.records.save(sync)  # never claims more than the server holds

    def _event_items(self, record: RunRecord, sync: SyncRecord, read: dict) -> Iterator[tuple]:
        for index, row in enumerate(source.iter_events(record.dir)):
            if index < sync.events:
                continue
            stamp = ms(row.get("_timestamp")) or 0
            for key, value in source.numeric_items(row):
                name = SYSTEM_PREFIX + (key[len("system."):] if key.startswith("system.") else key)
                if valid_key(name):
                    yield ("metric", name, value, stamp, index)
            read["count"] = index + 1

    def _summary_items(self, record: RunRecord, sync: SyncRecord, history_keys: set) -> Iterator[tuple]:
        """Numeric summary values that are not in the history, as one point at the last step."""
        stamp = ms(source.last_seen(record) or record.created) or 0
        for key, value in source.numeric_items(source.whole_documents(record)[1]):
            if key in history_keys or not valid_key(key) or same_number(sync.summary.get(key), value):
                continue
            sync.summary[key] = value
            yield ("metric", key, value, stamp, max(sync.step, 0))

    def _push_files(self, record: RunRecord, sync: SyncRecord, result: PushResult) -> None:
        """Files once the run has ended: a live run rewrites its documents every few seconds."""
        from wandb_cli.artifacts.runfiles import list_run_files

        if record.state == RUNNING:
            return
        files_dir = Path(record.dir) / "files"
        for entry in list_run_files(Path(record.dir)):
            full = files_dir / entry.path
            try:
                info = full.stat()
            except OSError:
                continue
            signature = [info.st_size, info.st_mtime_ns]
            if sync.files.get(entry.path) == signature:
                continue
            folder = "/".join(["files", *entry.path.split("/")[:-1]])
            self.client.log_artifact(_remote(sync), str(full), artifact_path=folder)
            sync.files[entry.path] = signature
            result.files += 1
        self._push_artifacts(record, sync, result)

    def _push_artifacts(self, record: RunRecord, sync: SyncRecord, result: PushResult) -> None:
        """Artifact versions the run produced, each once, under artifacts/NAME/vN."""
        from wandb_cli.artifacts.store import get_artifact, runs_artifacts

        unreadable: list[str] = []
        _used, produced = runs_artifacts(self.store_root, record.id, unreadable)
        result.notes += [f"{problem} (left out: if this run made it, it was not pushed)"
                         for problem in unreadable]
        done = sync.extra.setdefault("artifacts", [])
        for manifest in produced:
            if manifest.ref in done:
                continue
            with tempfile.TemporaryDirectory(prefix="wbrun-sync-") as tmp:
                get_artifact(self.store_root, manifest.ref, Path(tmp))
                self.client.log_artifacts(_remote(sync), tmp,
                                          artifact_path=f"artifacts/{manifest.name}/v{manifest.version}")
            done.append(manifest.ref)
            result.files += len(manifest.files)

    def _push_status(self, record: RunRecord, sync: SyncRecord, result: PushResult) -> None:
        """The status, and the end time of an ended run: sent again when either changed (a
        run resumed and ended again is FINISHED twice, with a later end)."""
        status = STATUS.get(record.state, "FAILED")
        result.status = status
        end = None if status == "RUNNING" else ms(source.last_seen(record))
        if sync.status == status and (end is None or sync.extra.get("end_time") == end):
            return
        if status == "RUNNING":
            self.client.update_run(_remote(sync), status="RUNNING")
        else:
            end = end if end is not None else ms(time.time())
            self.client.set_terminated(_remote(sync), status=status, end_time=end)
            sync.extra["end_time"] = end
        sync.status = status
        result.requests += 1


def _remote(sync: SyncRecord) -> str:
    if not sync.remote_id:
        raise StoreError(f"run {sync.run_id}: no MLflow run to push to")
    return sync.remote_id


@contextlib.contextmanager
def mlflow_errors(uri: str, run_id: str | None = None):
    """MLflow's exceptions (and a server that cannot be reached) as one RemoteError line."""
    from mlflow.exceptions import MlflowException

    where = f"MLflow at {uri}" + (f" (run {run_id})" if run_id else "")
    try:
        yield
    except MlflowException as exc:
        first = str(exc.message if hasattr(exc, "message") else exc).strip().splitlines()
        raise RemoteError(f"{where}: {first[0] if first else type(exc).__name__}") from None
    except (OSError, ConnectionError) as exc:
        raise RemoteError(f"{where}: {exc}") from None
    except Exception as exc:
        if type(exc).__module__.startswith(("requests", "urllib3")):
            raise RemoteError(f"{where}: cannot reach the server ({type(exc).__name__})") from None
        raise


def quiet_mlflow() -> None:
    """MLflow's own lines are not ours to print, and a server that does not answer is said
    after a few retries, not after MLflow's default of minutes.

    `set_terminated` on an http(s) store writes 'View run ... at: URL' with sys.stdout.write
    unless MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT is true (read at each call): forced, not
    defaulted, since sync's stdout is one line per run (docs/sync.md)."""
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    os.environ.setdefault("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "false")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)
