"""The peers' side of the benchmark, run by the interpreter that has wandb and/or MLflow
(`--peer-python`), one measurement per process.  Prints one JSON object last.

    peer_child.py wandb-log STORE STEPS VARIANT       wandb offline: init, log, finish
    peer_child.py wandb-arrays STORE STEPS            wandb offline: log() of a (4000, 1000) array
    peer_child.py mlflow-log URI STEPS VARIANT        MLflow: start_run, log_metrics, end_run
    peer_child.py mlflow-history URI STEPS            MLflow: get_metric_history of a STEPS-step metric
    peer_child.py mlflow-store ROOT NAME COUNT        an MLflow file store of the query runs
    peer_child.py mlflow-query URI NAME REPS          search_runs: first call, then REPS more

Invariant: the workloads come from workload.py, so the values logged and the runs searched
are the very ones wbrun gets.  The file store is written as MLflow's FileStore writes it
(its own RunInfo and meta.yaml writer; metric, param and tag files in its formats); the
caller checks that search_runs finds the same runs wbrun does.
"""
from __future__ import annotations

import json
import os
import random
import sys
import time

from workload import query_runs, step_values

SETTLE_S = 1.0  # the pause after init before log() is timed, as in sdk_child.py
FILTER = "metrics.val_loss <= 1"
ORDER = ["metrics.val_loss ASC"]


def wandb_log(store: str, steps: str, variant: str) -> dict:
    values = step_values(variant, int(steps))
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=store)
    t_values = time.perf_counter()
    import wandb

    t_import = time.perf_counter()
    run = wandb.init(project="bench", config={"lr": 0.001, "batch_size": 256})
    t_init = time.perf_counter()
    time.sleep(SETTLE_S)
    t_start = time.perf_counter()
    log = run.log
    for row in values:
        log(row)
    t_log = time.perf_counter()
    run.finish()
    t_finish = time.perf_counter()
    files = [os.path.join(d, f) for d, _, names in os.walk(store) for f in names
             if f.endswith(".wandb")]
    return {"import_s": t_import - t_values, "init_s": t_init - t_import,
            "log_s": t_log - t_start, "finish_s": t_finish - t_log, "steps": len(values),
            "settle_s": SETTLE_S, "data_bytes": sum(os.path.getsize(f) for f in files), "data_files": len(files)}


def wandb_arrays(store: str, steps: str) -> dict:
    """wandb offline logging a (4000, 1000) float32 array per step (as array_steps in
    benchmarks/suite_big.py does for wbrun): seconds per log() and bytes written."""
    import numpy as np

    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=store)
    import wandb

    array = np.random.default_rng(0).standard_normal((4000, 1000)).astype(np.float32)
    run = wandb.init(project="bench")
    started = time.perf_counter()
    for step in range(int(steps)):
        run.log({"weights": array, "loss": 1 / (step + 1)})
    logged = time.perf_counter() - started
    run.finish()
    finished = time.perf_counter() - started
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, names in os.walk(store) for f in names)
    return {"log_s": logged / int(steps), "through_finish_s": finished / int(steps), "bytes": size,
            "steps": int(steps)}


def mlflow_log(uri: str, steps: str, variant: str) -> dict:
    values = step_values(variant, int(steps))
    t_values = time.perf_counter()
    import mlflow

    t_import = time.perf_counter()
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("bench")
    run = mlflow.start_run()
    mlflow.log_params({"lr": 0.001, "batch_size": 256})
    t_init = time.perf_counter()
    time.sleep(SETTLE_S)
    t_start = time.perf_counter()
    log = mlflow.log_metrics
    for step, row in enumerate(values):
        log(row, step=step)
    t_log = time.perf_counter()
    mlflow.end_run()
    t_finish = time.perf_counter()
    return {"import_s": t_import - t_values, "init_s": t_init - t_import,
            "log_s": t_log - t_start, "finish_s": t_finish - t_log, "steps": len(values),
            "settle_s": SETTLE_S, "data_bytes": _metric_bytes(uri, run.info.experiment_id, run.info.run_id)}


def _metric_bytes(uri: str, experiment_id: str, run_id: str) -> int | None:
    if not uri.startswith("file:"):
        return None  # a database's pages are shared by all runs: no per-run figure
    folder = os.path.join(uri[len("file:"):], experiment_id, run_id, "metrics")
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))


def mlflow_history(uri: str, steps: str) -> dict:
    """One run whose `loss` has STEPS steps (logged with log_batch, 1,000 a call, the most
    MLflow takes), then get_metric_history on it: seconds and the process's peak RSS."""
    import resource

    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment(f"history-{os.getpid()}")
    run_id = client.create_run(experiment).info.run_id
    started = time.perf_counter()
    for start in range(0, int(steps), 1000):
        client.log_batch(run_id, metrics=[Metric("loss", 1 / (i + 1), 1_750_000_000_000 + i, i)
                                          for i in range(start, min(int(steps), start + 1000))])
    logged = time.perf_counter() - started
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    history = client.get_metric_history(run_id, "loss")
    read = time.perf_counter() - started
    assert len(history) == int(steps), len(history)
    return {"log_s": logged, "history_s": read, "steps": len(history),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before_mb": rss_before / 1024}


def mlflow_store(root: str, name: str, count: str) -> dict:
    """The query runs as an MLflow file-store experiment; returns its id."""
    from mlflow.store.tracking.file_store import FileStore

    started = time.perf_counter()
    store = FileStore(root)
    experiment_id = store.create_experiment(name)
    rng = random.Random(11)
    for spec in query_runs(int(count)):
        _write_mlflow_run(store, experiment_id, spec, f"{rng.getrandbits(128):032x}")
    return {"experiment_id": experiment_id, "runs": int(count),
            "seconds": round(time.perf_counter() - started, 2)}


def _write_mlflow_run(store, experiment_id: str, spec: dict, run_id: str) -> None:
    from mlflow.entities import LifecycleStage, RunInfo, RunStatus
    from mlflow.store.tracking.file_store import _make_persisted_run_info_dict
    from mlflow.utils.file_utils import write_yaml

    run_dir = os.path.join(store.root_directory, experiment_id, run_id)
    info = RunInfo(run_id=run_id, run_name=spec["id"], experiment_id=experiment_id,
                   artifact_uri=store._get_artifact_dir(experiment_id, run_id), user_id="bench",
                   status=RunStatus.to_string(RunStatus.FINISHED),
                   start_time=int(spec["created"] * 1000), end_time=int(spec["ended"] * 1000),
                   lifecycle_stage=LifecycleStage.ACTIVE)
    for sub in ("metrics", "params", "artifacts", "tags"):
        os.makedirs(os.path.join(run_dir, sub))
    meta = _make_persisted_run_info_dict(info)
    meta["deleted_time"] = None
    write_yaml(run_dir, "meta.yaml", meta)
    _write_metrics(run_dir, spec["history"])
    for key, value in spec["config"].items():
        _put(os.path.join(run_dir, "params", key), str(value))
    tags = {"mlflow.runName": spec["id"], "mlflow.user": "bench", "group": spec["group"],
            "project": spec["project"], "job_type": spec["job_type"]}
    for key, value in tags.items():
        _put(os.path.join(run_dir, "tags", key), value)


def _write_metrics(run_dir: str, history: list[dict]) -> None:
    keys = [k for k in history[0] if not k.startswith("_")]
    for key in keys:
        lines = "".join(f"{int(row['_timestamp'] * 1000)} {row[key]} {row['_step']}\n"
                        for row in history)
        _put(os.path.join(run_dir, "metrics", key), lines)


def _put(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def mlflow_query(uri: str, name: str, reps: str) -> dict:
    import mlflow

    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name(name)
    times, rows = [], None
    for _ in range(1 + int(reps)):
        start = time.perf_counter()
        frame = mlflow.search_runs([experiment.experiment_id], filter_string=FILTER,
                                   order_by=ORDER, max_results=200_000)
        times.append(time.perf_counter() - start)
        rows = len(frame)
    first = frame["metrics.val_loss"].iloc[0] if rows else None
    return {"first_s": times[0], "repeated_s": times[1:], "rows": rows, "best": first}


COMMANDS = {"wandb-log": wandb_log, "wandb-arrays": wandb_arrays, "mlflow-log": mlflow_log,
            "mlflow-history": mlflow_history, "mlflow-store": mlflow_store, "mlflow-query": mlflow_query}

if __name__ == "__main__":
    print(json.dumps(COMMANDS[sys.argv[1]](*sys.argv[2:])))
