"""Suite `ui`: `wbrun ui` on the generated 10,000-run store and on a 1,000,000-step run,
against `mlflow server` (sqlite) on the same 10,000 runs.

Invariant: every figure is a real HTTP answer from a real server process (or a page drawn
by real headless Chromium), checked before it counts: the runs API must return 100 rows
and the store's total, the long series at most 2,000 points with the planted spike in it,
MLflow's search 100 runs.  Server memory is the kernel's high-water mark (VmHWM) of the
server process after every measurement, so a peak between samples is not missed.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from statistics import median

from benchmarks.context import Context
from benchmarks.report import Row, at_most, ratio
from benchmarks.timing import BenchError

RUNS_API_LIMIT_S = 0.3
WORKSPACE_LIMIT_S = 1.5
SERIES_LIMIT_S = 0.3
RSS_LIMIT_MB = 300
LONG_STEPS = 1_000_000
LONG_VERSION = 1
SPIKE_STEP = 654_321


def run(ctx: Context) -> list[Row]:
    from benchmarks.suite_query import ensure_store

    store, meta = ensure_store(ctx, 10_000)
    rows: list[Row] = []
    server = _Server(ctx, store)
    try:
        rows += _runs_api_rows(ctx, server, meta["runs"])
        rows.append(_workspace_row(ctx, server, store))
        peak_10k = server.peak_mb()
    finally:
        server.stop()
    long_store, long_id = ensure_long_run(ctx)
    server = _Server(ctx, long_store)
    try:
        rows += _series_rows(ctx, server, long_id)
        peak_long = server.peak_mb()
    finally:
        server.stop()
    rows.append(Row("ui", "`wbrun ui` server peak RSS (VmHWM), all of the above", max(peak_10k, peak_long),
                    "MB", target=f"< {RSS_LIMIT_MB} MB", ok=max(peak_10k, peak_long) < RSS_LIMIT_MB,
                    detail=f"10,000-run store {peak_10k:.0f} MB, 1,000,000-step run {peak_long:.0f} MB"))
    rows += _mlflow_rows(ctx, rows[0], rows[1])
    return rows


# -- the wbrun ui server ----------------------------------------------------------------------
class _Server:
    def __init__(self, ctx: Context, store: Path):
        self.proc = subprocess.Popen([*ctx.wbrun, "ui", "--dir", str(store), "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=ctx.env)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        match = re.search(r"http://(\S+?)/", line)
        if not match:
            self.proc.kill()
            raise BenchError(f"wbrun ui printed no URL: {line!r}")
        self.base = f"http://{match.group(1)}"

    def get(self, path: str) -> tuple[float, bytes]:
        start = time.perf_counter()
        with urllib.request.urlopen(self.base + path, timeout=120) as response:
            data = response.read()
        return time.perf_counter() - start, data

    def cpu_s(self) -> float:
        """User + system CPU seconds the server has used so far (all its threads)."""
        with open(f"/proc/{self.proc.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def timed(self, path: str) -> tuple[float, float, bytes]:
        """(wall seconds, server CPU seconds, body) of one GET."""
        before = self.cpu_s()
        seconds, data = self.get(path)
        return seconds, self.cpu_s() - before, data

    def peak_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        raise BenchError("no VmHWM for the server")

    def stop(self) -> None:
        self.proc.send_signal(2)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _runs_api_rows(ctx: Context, server: _Server, count: int) -> list[Row]:
    """The first 100 rows with the total: the server's first call (it reads every run),
    the same query again after the run list's 1 s lifetime (answered from the snapshot
    while it is re-read in the background), and a new query each time (a filter the server
    has not seen: computed on the snapshot).  Server CPU seconds are given beside, as the
    machine may be loaded."""
    def page(path: str) -> tuple[float, float]:
        seconds, cpu, data = server.timed(path)
        answer = json.loads(data)
        if len(answer["rows"]) != 100 or not answer["total"]:
            raise BenchError(f"{path}: {len(answer['rows'])} rows, total {answer['total']}")
        return seconds, cpu

    first, first_cpu = page("/api/runs?limit=100")
    total = json.loads(server.get("/api/runs?limit=1")[1])["total"]
    if total != count:
        raise BenchError(f"the runs API counted {total} runs, the store holds {count}")
    again, fresh = [], []
    for i in range(ctx.reps):
        time.sleep(1.1)
        again.append(page("/api/runs?limit=100"))
        bound = 1 + i / 1000  # a filter never asked before: nothing memoised
        fresh.append(page(f"/api/runs?limit=100&filter=val_loss%20%3C%3D%20{bound}&sort=val_loss"))
    label = f"runs API, first 100 rows + total, {count:,} runs"

    def row(name: str, samples: list, detail: str = "") -> Row:
        wall, cpu = median(s[0] for s in samples), median(s[1] for s in samples)
        return Row("ui", name, wall, "s", target=f"<= {RUNS_API_LIMIT_S} s",
                   ok=at_most(wall, RUNS_API_LIMIT_S),
                   detail=f"server CPU {cpu * 1000:.0f} ms" + (f"; {detail}" if detail else ""),
                   data={"wall": [s[0] for s in samples], "cpu": [s[1] for s in samples]})

    return [
        row(label + ", again after 1 s", again, f"total {total:,} checked"),
        row(f"runs API, a new `val_loss <= x` sorted query each time, first 100 + total, {count:,} runs",
            fresh),
        Row("ui", label + ", server's first call (reads every run)", first, "s",
            detail=f"server CPU {first_cpu:.2f} s"),
    ]


def _workspace_row(ctx: Context, server: _Server, store: Path) -> Row:
    """Navigation start to the table's rows and the first chart's canvas, in Chromium."""
    label = "workspace usable in headless Chromium (rows + first chart), largest project"
    driver = _chromium()
    if isinstance(driver, str):
        return Row("ui", label, None, "s", detail=driver)
    projects = json.loads(server.get("/api/projects")[1])
    project = max(projects, key=lambda p: p["runs"])
    url = f"{server.base}/projects/{project['name']}"
    ready = ("return !!(document.querySelector('#runs-table tr.run-row') && "
             "document.querySelector('.chart canvas'));")
    times = []
    try:
        for i in range(ctx.warmup + ctx.reps):
            time.sleep(1.1)  # past the server's run-list cache: each load re-reads the store
            start = time.perf_counter()
            driver.get(url)
            while not driver.execute_script(ready):
                if time.perf_counter() - start > 60:
                    raise BenchError("the workspace drew no rows and chart within 60 s")
                time.sleep(0.01)
            if i >= ctx.warmup:
                times.append(time.perf_counter() - start)
    finally:
        driver.quit()
    return Row("ui", label + f" ({project['runs']:,} runs)", median(times), "s",
               target=f"<= {WORKSPACE_LIMIT_S} s", ok=at_most(median(times), WORKSPACE_LIMIT_S),
               detail="from navigation start, 10 selected runs' charts", data={"values": times})


def _chromium():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return "selenium not installed"
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver:
        return "no chromium / chromedriver on PATH"
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,900"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=options)


# -- the 1,000,000-step run -------------------------------------------------------------------
def ensure_long_run(ctx: Context) -> tuple[Path, str]:
    """A store holding one finished run with LONG_STEPS history rows (loss has a spike)."""
    from benchmarks.genstore import write_run
    from benchmarks.workload import query_runs
    from wandb_cli.store.layout import HISTORY, Store

    root = ctx.work / "stores" / "ui-long"
    marker = root.parent / "ui-long.json"
    try:
        made = json.loads(marker.read_text())
    except (OSError, ValueError):
        made = {}
    if made.get("generator") == LONG_VERSION and root.is_dir():
        return root, made["id"]
    shutil.rmtree(root, ignore_errors=True)
    print(f"  writing a {LONG_STEPS:,}-step run in {root} ...", file=sys.stderr, flush=True)
    store = Store(root, host="bench-host")
    store.ensure()
    spec = next(query_runs(1, seed=11))
    spec["project"] = "long"
    run_dir = write_run(store, spec, 1)
    with open(os.path.join(run_dir, "files", HISTORY), "wb") as fh:
        for start in range(0, LONG_STEPS, 50_000):
            fh.write("".join(_long_row(step, spec["created"]) for step in range(start, start + 50_000)).encode())
    marker.write_text(json.dumps({"id": spec["id"], "generator": LONG_VERSION}))
    time.sleep(2.1)  # index entries younger than 2 s are not cached
    return root, spec["id"]


def _long_row(step: int, created: float) -> str:
    loss = 2.0 / (1 + step / 1000) + (100.0 if step == SPIKE_STEP else 0.0) + (step % 7) * 1e-4
    runtime = step * 0.01
    return (f'{{"loss":{loss:.6f},"acc":{1 - loss / 200:.6f},"lr":{0.1 / (1 + step / 1e5):.6g},'
            f'"_step":{step},"_runtime":{runtime:.2f},"_timestamp":{created + runtime:.3f}}}\n')


def _series_rows(ctx: Context, server: _Server, run_id: str) -> list[Row]:
    def series(key: str, x: str = "_step") -> tuple[float, float]:
        seconds, cpu, data = server.timed(f"/api/runs/{run_id}/history?keys={key}&x={x}&max_points=2000")
        got = json.loads(data)["series"][key]
        if got["count"] != LONG_STEPS or len(got["x"]) > 2000:
            raise BenchError(f"{key}: {got['count']} points counted, {len(got['x'])} sent")
        if key == "loss" and max(got["y"]) < 100:
            raise BenchError("the spike at step 654,321 was lost in downsampling")
        return seconds, cpu

    first, first_cpu = series("loss")
    repeated = [series("loss") for _ in range(ctx.reps)]
    others = [series(key, x) for key, x in (("acc", "_step"), ("lr", "_runtime"), ("acc", "_timestamp"))]
    label = f"history API, 2,000-point series of a {LONG_STEPS:,}-step run"

    def row(name: str, samples: list, detail: str = "") -> Row:
        wall, cpu = median(s[0] for s in samples), median(s[1] for s in samples)
        return Row("ui", name, wall, "s", target=f"<= {SERIES_LIMIT_S} s", ok=at_most(wall, SERIES_LIMIT_S),
                   detail=f"server CPU {cpu * 1000:.0f} ms" + (f"; {detail}" if detail else ""),
                   data={"wall": [s[0] for s in samples], "cpu": [s[1] for s in samples]})

    return [
        row(label + ", after the first call", repeated, "spike at step 654,321 kept, checked"),
        row(label + ", other keys and x axes after the first call", others),
        Row("ui", label + ", first call (parses the whole file)", first, "s",
            detail=f"server CPU {first_cpu:.1f} s"),
    ]


# -- MLflow's server --------------------------------------------------------------------------
def _mlflow_rows(ctx: Context, ours: Row, ours_query: Row) -> list[Row]:
    label = "`mlflow server` (sqlite) runs search, first 100 of 10,000 runs (no total count)"
    if not ctx.has("mlflow"):
        return [Row("ui", label, None, "s", detail="MLflow not installed")]
    from benchmarks.suite_query import ensure_mlflow_store

    uri = ensure_mlflow_store(ctx, 10_000)["sqlite"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = ctx.peer_script("mlflow")
    argv = [script] if script else [ctx.peer_python or sys.executable, "-m", "mlflow"]
    proc = subprocess.Popen([*argv, "server", "--backend-store-uri", uri, "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ctx.env,
                            cwd=ctx.work, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_up(base + "/health", proc)
        with urllib.request.urlopen(f"{base}/api/2.0/mlflow/experiments/get-by-name?"
                                    "experiment_name=runs-10000", timeout=60) as response:
            experiment = json.loads(response.read())["experiment"]["experiment_id"]
        plain = _mlflow_search(ctx, base, {"experiment_ids": [experiment], "max_results": 100,
                                           "order_by": ["attributes.start_time DESC"]})
        query = _mlflow_search(ctx, base, {"experiment_ids": [experiment], "max_results": 100,
                                           "filter": "metrics.val_loss <= 1",
                                           "order_by": ["metrics.val_loss ASC"]})
    finally:
        _end_group(proc)
    ours.compare.append(("`mlflow server` sqlite, newest 100 (no total)", plain, "s"))
    ours_query.compare.append(("`mlflow server` sqlite, `val_loss <= 1` sorted, 100 (no total)", query, "s"))
    return [
        Row("ui", label + ", newest first", plain, "s", detail="the query MLflow's UI makes first"),
        Row("ui", "`mlflow server` (sqlite), `metrics.val_loss <= 1` sorted, first 100 of 10,000 runs",
            query, "s", detail=f"wbrun ui's new query each time: {ratio(query, ours_query.value) or 0:.1f}x "
                               "faster, with the total"),
    ]


def _end_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (gunicorn/uvicorn workers too), then SIGKILL."""
    try:
        os.killpg(proc.pid, 15)
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()
    except ProcessLookupError:
        pass


def _mlflow_search(ctx: Context, base: str, body: dict) -> float:
    """Median seconds of MLflow's REST runs search after one untimed call."""
    data = json.dumps(body).encode()
    times = []
    for i in range(1 + ctx.reps):
        start = time.perf_counter()
        request = urllib.request.Request(f"{base}/api/2.0/mlflow/runs/search", data=data,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=300) as response:
            found = json.loads(response.read()).get("runs", [])
        if len(found) != 100:
            raise BenchError(f"mlflow server returned {len(found)} runs, not 100")
        if i:
            times.append(time.perf_counter() - start)
    return median(times)


def _wait_up(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"mlflow server exited {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise BenchError("mlflow server did not answer within 180 s")
