"""Suite: `wbrun sync --to mlflow` of 100 runs x 1,000 steps (five floats a step) to an MLflow
tracking server on loopback (sqlite backend, local artifacts, one worker), against MLflow's
own `log_batch` loop sending the same metric points to the same server in the same
invocation.

Invariant: both sides run in fresh processes after the store is made and the server is
healthy; the rate is history rows (steps) per second of pushing, the import of mlflow not
counted on either side.  wbrun's side also pushes params, tags and each run's files.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from benchmarks.context import BENCH_DIR, Context
from benchmarks.report import Row, at_least, ratio
from benchmarks.timing import BenchError, run_json

RUNS, STEPS = 100, 1000
MIN_RATIO = 0.5  # at least half of MLflow's own best-case loop, which has no files or params


def run(ctx: Context) -> list[Row]:
    if not ctx.has("mlflow"):
        return [Row("sync", "sync to MLflow: 100 runs x 1,000 steps", None, "steps/s",
                    detail="mlflow is not installed")]
    store = ctx.fresh_dir("sync-store")
    make_store(store)
    with mlflow_server(ctx.fresh_dir("sync-server")) as url:
        ours, _ = run_json([ctx.python, str(BENCH_DIR / "sync_child.py"), str(store), url, "wbrun",
                            "bench-wbrun"], env=ctx.env, cwd=ctx.work, timeout=1800)
        theirs, _ = run_json([ctx.peer_python or ctx.python, str(BENCH_DIR / "sync_child.py"),
                              str(store), url, "mlflow", "bench-mlflow"], env=ctx.env, cwd=ctx.work,
                             timeout=1800)
    ours_rate = ours["rows"] / ours["seconds"]
    theirs_rate = theirs["rows"] / theirs["seconds"]
    share = ratio(ours_rate, theirs_rate)
    return [Row("sync", "sync to MLflow: 100 runs x 1,000 steps", ours_rate, "steps/s",
                compare=[("MLflow log_batch loop", theirs_rate, "steps/s")],
                target=f">= {MIN_RATIO}x MLflow's loop", ok=at_least(share, MIN_RATIO),
                detail=f"wbrun {ours['seconds']:.1f} s, {ours['requests']} requests "
                       f"({ours['files']} files); MLflow loop {theirs['seconds']:.1f} s, "
                       f"{theirs['requests']} requests; {ours['points']} metric points each",
                data={"wbrun": ours, "mlflow": theirs})]


def make_store(root: Path) -> None:
    """100 finished runs of 1,000 steps, written through the recorder in this process."""
    from wandb_cli.store.layout import Store
    from wandb_cli.store.recorder import RunSpec, start_run

    store = Store(root)
    for index in range(RUNS):
        live = start_run(store, RunSpec(project="bench", config={"lr": 0.001 * index, "seed": index}),
                         pid=os.getpid(), recorder="sdk")
        for step in range(STEPS):
            live.log({"loss": 1 / (step + 1), "acc": step / STEPS, "lr": 0.1, "grad": 0.5, "t": index})
        live.finish("finished", 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def mlflow_server(folder: Path, timeout_s: float = 180):
    port = _free_port()
    exe = shutil.which("mlflow")
    argv = [exe] if exe else [sys.executable, "-m", "mlflow"]
    with open(folder / "server.log", "wb") as log:
        proc = subprocess.Popen(
            [*argv, "server", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
             "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1",
             "--port", str(port), "--workers", "1"], stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=folder)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout_s
            while not _healthy(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(f"mlflow server did not start: see {folder / 'server.log'}")
                time.sleep(0.5)
            yield url
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
