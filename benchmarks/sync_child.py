"""One side of the sync benchmark, in a fresh process: push every run of STORE to the MLflow
server at URL, through wbrun's pusher (`wbrun`) or MLflow's own `log_batch` loop (`mlflow`).

    python benchmarks/sync_child.py STORE URL wbrun|mlflow EXPERIMENT

Both sides send the same metric points (each history row's numbers at its `_step` and
`_timestamp`); MLflow's loop gets them pre-built in memory and sends 1,000 per request, the
most its server takes.  wbrun's side also sends params, tags and files, as `wbrun sync`
does.  Prints one JSON object: rows, metric points, seconds, requests.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def wbrun_side(store_root: Path, url: str, experiment: str) -> dict:
    from wandb_cli.store.layout import Store
    from wandb_cli.sync.to_mlflow import MlflowTarget

    store = Store(store_root)
    records = sorted(store.iter_runs(), key=lambda r: r.created)
    target = MlflowTarget(url, experiment=experiment, store_root=store_root)
    start = time.perf_counter()
    results = [target.push(record) for record in records]
    seconds = time.perf_counter() - start
    return {"rows": sum(r.rows for r in results), "points": sum(r.metrics for r in results),
            "requests": sum(r.requests for r in results), "files": sum(r.files for r in results),
            "seconds": seconds}


def mlflow_side(store_root: Path, url: str, experiment: str) -> dict:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    from wandb_cli.store.layout import Store
    from wandb_cli.sync.source import iter_history, numeric_items

    store = Store(store_root)
    prepared = []
    for record in sorted(store.iter_runs(), key=lambda r: r.created):
        rows = list(iter_history(record.dir))
        metrics = [Metric(k, v, int(row["_timestamp"] * 1000), row["_step"])
                   for row in rows for k, v in numeric_items(row)]
        prepared.append((record, len(rows), metrics))
    client = MlflowClient(tracking_uri=url)
    experiment_id = client.create_experiment(experiment)
    start = time.perf_counter()
    requests = 0
    for record, _rows, metrics in prepared:
        run = client.create_run(experiment_id, run_name=record.name)
        for i in range(0, len(metrics), 1000):
            client.log_batch(run.info.run_id, metrics=metrics[i:i + 1000], synchronous=True)
            requests += 1
        client.set_terminated(run.info.run_id, "FINISHED")
        requests += 2
    seconds = time.perf_counter() - start
    return {"rows": sum(r for _, r, _ in prepared), "points": sum(len(m) for _, _, m in prepared),
            "requests": requests, "files": 0, "seconds": seconds}


if __name__ == "__main__":
    import logging

    store_arg, url_arg, side, experiment_arg = sys.argv[1:5]
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    run = wbrun_side if side == "wbrun" else mlflow_side
    print(json.dumps(run(Path(store_arg), url_arg, experiment_arg)))
