"""Suite "big": the workloads of issue 16 (big runs, fast pipes).

  - output pump: `wbrun -q -- CMD` vs bare CMD, both writing into a pipe drained by `cat`,
    beside `wbrun -q -- true` (its start and finish), coreutils' `tee FILE` and a C loop doing
    only the copies a wrapper must (benchmarks/copyloop.c, built where a C compiler is),
    plain and with the page-cache advice wbrun gives output.log, each into a new file,
    for N MB of short lines (`yes`) and 1M short lines from Python; pipe mode, and pty mode
    (the command's stdout a pseudo-terminal that this process drains);
  - printed `key=value` lines: lines recorded per second (every step checked on disk);
  - a 5,000,000-step history (generated once, reused): `runs show`, `runs plot`,
    `runs ls --spark` repeated, `runs history --format csv` MB/s, peak RSS of each;
  - `init()` + `log()` + `finish()` in a loop with system metrics on: ms per run, RSS growth.

Invariant: a figure counts only after its work is checked (output.log and stdout
checksums, steps on disk, CSV line count); ratios are to a baseline measured in the same
invocation.  Everything is written under the work folder.
"""
from __future__ import annotations

import hashlib
import os
import pty
import shlex
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.context import Context
from benchmarks.report import Row, at_least, at_most, ratio
from benchmarks.timing import BenchError, Sample, run_once

PUMP_MAX_RATIO = 1.5
METRIC_LINES_MIN = 100_000
BIG_RSS_MB = 150
BIG_REPEAT_S = 1.0
CSV_MIN_MBPS = 50
CSV_REPS = 3
INIT_MAX_MS = 20


def run(ctx: Context, *, pump_mb: int = 500, history_steps: int = 5_000_000,
        init_runs: int = 1000) -> list[Row]:
    rows = _pump_rows(ctx, pump_mb) if pump_mb > 0 else []  # --big-mb 0: no pump rows (~20 min)
    rows.append(_metric_row(ctx))
    rows += _history_rows(ctx, history_steps)
    if ctx.has("mlflow"):
        rows.append(_mlflow_history_row(ctx))
    rows.append(_init_row(ctx, init_runs))
    rows.append(_array_row(ctx))
    return rows


# --- output pump -----------------------------------------------------------------------
def _workloads(ctx: Context, mb: int) -> list[tuple[str, str, int]]:
    lines = ctx.work / "big-lines.py"
    lines.write_text("import sys\nw = sys.stdout.write\nfor i in range(1_000_000): w(f'line {i} of the run\\n')\n")
    return [(f"{mb} MB of short lines (`yes | head -c`)", f"yes | head -c {mb * 1_000_000}", mb * 1_000_000),
            ("1M short lines from Python", f"{shlex.quote(ctx.python)} {lines}", 0)]


def _pump_rows(ctx: Context, mb: int) -> list[Row]:
    rows = []
    store = ctx.fresh_dir("big-pump-store")
    wbrun = shlex.join([*ctx.wbrun, "-q", "--dir", str(store), "--"])
    copyloop = _copy_loop(ctx)
    # wbrun's own start and finish, around a command that prints nothing
    start = ctx.time(["sh", "-c", f"{wbrun} true | cat > /dev/null"])
    for label, command, _size in _workloads(ctx, mb):
        rows.append(_pipe_row(ctx, label, command, store, wbrun, start, copyloop))
        bare_pty = _pty_time(["sh", "-c", command], ctx)
        wrapped_pty = _pty_time(["sh", "-c", f"{wbrun} sh -c {shlex.quote(command)}"], ctx)
        times = ratio(wrapped_pty.median, bare_pty.median)
        rows.append(Row("big", f"pty mode: {label}, wrapped / bare", times, "x",
                        [("bare", bare_pty.median, "s"), ("wrapped", wrapped_pty.median, "s")],
                        target=f"<= {PUMP_MAX_RATIO}x", ok=at_most(times, PUMP_MAX_RATIO),
                        detail=f"{wrapped_pty.extra['bytes']:,} bytes read through the terminal"))
        shutil_rmtree(store)
    return rows


def _pipe_row(ctx: Context, label: str, command: str, store: Path, wbrun: str, start: Sample,
              copyloop: str | None) -> Row:
    """Pipe mode: bare, wrapped, through `tee FILE` and through the C copy loop, plain and
    with the page-cache advice wbrun gives output.log."""
    from wandb_cli.runner.pumps import OUTPUT_CACHE_WINDOW

    # Each pass writes a new file, as each wrapped run writes a new output.log, and starts
    # from a settled page cache: the last pass's files removed and all dirty pages written
    # back.  Else a pass pays for the ones before it: truncating the last 500 MB file costs
    # ~0.2 s here, and a few GB left dirty throttle the next writer (the C loop took 1.7 s
    # after `tee`'s passes, 0.6 s settled).
    copies = store.parent / "big-pump-copies"
    new_file = shlex.quote(str(copies)) + "/out.$$"

    def settle() -> None:
        shutil_rmtree(copies)
        shutil_rmtree(store)
        os.sync()

    def timed(pipeline: str) -> Sample:
        return ctx.time(["sh", "-c", f"{pipeline} | cat > /dev/null"], before=settle)

    bare = timed(command)
    wrapped = timed(f"{wbrun} sh -c {shlex.quote(command)}")
    # what keeping a copy of the output costs with no tracker at all: coreutils' tee, and
    # the bare copies in C (a read of the pipe and two writes a chunk)
    tee = timed(f"{command} | tee {new_file}")
    floors = {}
    if copyloop:
        for name, window in (("plain", ""), ("advice", f" {OUTPUT_CACHE_WINDOW}")):
            floors[name] = timed(f"{command} | {copyloop} {new_file}{window}")
    settle()
    check = _check_pipe(ctx, command, store, wbrun)
    times = ratio(wrapped.median, bare.median)
    compare: list[tuple[str, float | None, str]] = [
        ("bare", bare.median, "s"), ("wrapped", wrapped.median, "s"),
        ("wbrun -q -- true", start.median, "s"), ("bare | tee FILE", tee.median, "s")]
    data = {"bare": bare.as_json(), "wrapped": wrapped.as_json(), "start": start.as_json(),
            "tee": tee.as_json()}
    if floors:
        plain, advice = floors["plain"], floors["advice"]
        compare += [("bare | C copy loop FILE", plain.median, "s"),
                    ("the same, with output.log's page-cache advice", advice.median, "s")]
        data |= {"copy_loop": plain.as_json(), "copy_loop_advice": advice.as_json()}
        check += (f"; the C copy loop takes {ratio(plain.median, bare.median):.2f}x bare, "
                  f"{ratio(advice.median, bare.median):.2f}x with the advice; "
                  f"wrapped {ratio(wrapped.median, advice.median):.2f}x the latter")
    else:
        check += "; the C copy loop was not timed (no C compiler, or it did not build)"
    return Row("big", f"pipe mode: {label}, wrapped / bare", times, "x", compare,
               target=f"<= {PUMP_MAX_RATIO}x", ok=at_most(times, PUMP_MAX_RATIO),
               detail=check, data=data)


def _copy_loop(ctx: Context) -> str | None:
    """benchmarks/copyloop.c built into the work folder; None where no C compiler builds it."""
    import shutil

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    exe = ctx.work / "copyloop"
    built = subprocess.run([cc, "-O2", "-o", str(exe), str(Path(__file__).with_name("copyloop.c"))],
                           capture_output=True)
    return shlex.quote(str(exe)) if built.returncode == 0 else None


def shutil_rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)


def _check_pipe(ctx: Context, command: str, store: Path, wbrun: str) -> str:
    """One more wrapped run: stdout equals the bare output, output.log equals it collapsed."""
    bare = subprocess.run(["sh", "-c", f"{command} | sha256sum"], capture_output=True,
                          env=ctx.env, check=True).stdout.split()[0]
    wrapped = subprocess.run(["sh", "-c", f"{wbrun} sh -c {shlex.quote(command)} | sha256sum"],
                             capture_output=True, env=ctx.env, check=True).stdout.split()[0]
    log = (store / "latest-run" / "files" / "output.log")
    digest = hashlib.sha256()
    with open(log, "rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    if not (bare == wrapped == digest.hexdigest().encode()):
        raise BenchError(f"output differs: bare {bare!r}, wrapped {wrapped!r}, log {digest.hexdigest()}")
    return f"stdout and output.log sha256 equal the bare output's ({log.stat().st_size:,} bytes)"


def _pty_time(argv: list[str], ctx: Context) -> Sample:
    times, total = [], 0
    for i in range(ctx.warmup + ctx.reps):
        start = time.perf_counter()
        pid, master = pty.fork()
        if pid == 0:  # pragma: no cover - the child execs
            os.execvpe(argv[0], argv, ctx.env)
        total = 0
        while True:
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            total += len(chunk)
        _, status = os.waitpid(pid, 0)
        os.close(master)
        if os.waitstatus_to_exitcode(status) != 0:
            raise BenchError(f"{argv} exited {status}")
        if i >= ctx.warmup:
            times.append(time.perf_counter() - start)
    return Sample(times, extra={"bytes": total})


# --- printed metrics -------------------------------------------------------------------
def _metric_row(ctx: Context, lines: int = 100_000) -> Row:
    script = ctx.work / "big-metrics.py"
    script.write_text("import sys\nw = sys.stdout.write\n"
                      f"for i in range({lines}):\n"
                      "    w(f'step={i} loss={1 / (i + 1):.6f} acc={i % 97 / 97:.4f}\\n')\n")
    store = ctx.fresh_dir("big-metrics-store")
    bare = ctx.time([ctx.python, str(script)])
    wrapped = ctx.time([*ctx.wbrun, "-q", "--dir", str(store), "--", ctx.python, str(script)])
    history = sorted(store.glob("run-*"))[-1] / "files" / "wandb-history.jsonl"
    with open(history, "rb") as fh:
        steps = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    if steps != lines:
        raise BenchError(f"{steps} steps on disk, {lines} printed")
    rate = lines / wrapped.median
    return Row("big", f"printed `key=value` lines recorded, {lines:,} lines", rate, "steps/s",
               [("bare", bare.median, "s"), ("wrapped", wrapped.median, "s")],
               target=f">= {METRIC_LINES_MIN:,}/s", ok=at_least(rate, METRIC_LINES_MIN),
               detail=f"{steps:,} steps on disk", data=wrapped.as_json())


# --- big histories ---------------------------------------------------------------------
def _history_rows(ctx: Context, steps: int) -> list[Row]:
    store = _ensure_history(ctx, steps)
    rows = []
    commands = [("`runs show`", ["runs", "show", "bighist1"]),
                ("`runs plot --output x.svg`", ["runs", "plot", "bighist1", "--output", str(ctx.work / "big.svg")]),
                ("`runs ls --spark loss`", ["runs", "ls", "--spark", "loss"])]
    peaks = {}
    for label, args in commands:
        argv = [*ctx.wbrun, *args, "--dir", str(store)]
        sample = ctx.time(argv)
        peaks[label] = sample.peak_rss_mb
        rows.append(Row("big", f"{label}, {steps:,}-step history, repeated", sample.median, "s",
                        target=f"<= {BIG_REPEAT_S:g} s", ok=at_most(sample.median, BIG_REPEAT_S),
                        detail=f"peak RSS {sample.peak_rss_mb:.0f} MB", data=sample.as_json()))
    rows.append(_first_show_row(ctx, store, steps))
    out = ctx.work / "big-history.csv"
    walls, rsss = [], []
    for _ in range(CSV_REPS):  # each ~7 s here: the median of a few, not one
        with open(out, "wb") as fh:
            wall, rss, _ = run_once([*ctx.wbrun, "runs", "history", "bighist1", "--format", "csv",
                                     "--dir", str(store)], env=ctx.env, stdout=fh)
        walls.append(wall)
        rsss.append(rss)
        size = out.stat().st_size
        with open(out, "rb") as fh:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 22), b""))
        out.unlink()
        if lines != steps + 1:
            raise BenchError(f"csv has {lines} lines for {steps} steps")
    wall = sorted(walls)[len(walls) // 2]
    peaks["`runs history --format csv`"] = max(rsss)
    rate = size / 1e6 / wall
    rows.append(Row("big", f"`runs history --format csv`, {steps:,} steps", rate, "MB/s",
                    target=f">= {CSV_MIN_MBPS} MB/s", ok=at_least(rate, CSV_MIN_MBPS),
                    detail=(f"{size / 1e6:.0f} MB, {lines:,} lines in {wall:.1f} s (median of "
                            f"{', '.join(f'{w:.1f}' for w in walls)} s)")))
    peak = max(peaks.values())
    rows.append(Row("big", f"peak RSS over show/plot/spark/csv, {steps:,} steps", peak, "MB",
                    target=f"<= {BIG_RSS_MB} MB", ok=at_most(peak, BIG_RSS_MB),
                    detail=", ".join(f"{k} {v:.0f} MB" for k, v in peaks.items())))
    return rows


def _first_show_row(ctx: Context, store: Path, steps: int) -> Row:
    """The first `runs show` of a run whose digest is missing (a run recorded by an older
    wbrun or by hand, or the stretch a wrapped run's ticker had not yet read): the digest
    is built from the whole history, once.  One timing: it takes tens of seconds here."""
    from wandb_cli.store.digest import DIGEST

    [run_dir] = store.glob("run-*")
    (run_dir / DIGEST).unlink(missing_ok=True)
    wall, rss, _ = run_once([*ctx.wbrun, "runs", "show", "bighist1", "--dir", str(store)],
                            env=ctx.env, stdout=subprocess.DEVNULL)
    if not (run_dir / DIGEST).exists():
        raise BenchError("the first `runs show` left no digest")
    return Row("big", f"first `runs show` of a {steps:,}-step history, its digest built", wall, "s",
               target="info", ok=None, detail=f"peak RSS {rss:.0f} MB")


def _ensure_history(ctx: Context, steps: int) -> Path:
    store = ctx.work / "stores" / f"bighist-{steps}"
    marker = store.parent / f"bighist-{steps}.done"
    if not marker.exists():
        shutil_rmtree(store)
        print(f"  generating a {steps:,}-step history in {store} ...", file=sys.stderr, flush=True)
        subprocess.run([ctx.python, "-m", "benchmarks.genhistory", str(store), str(steps)],
                       check=True, env={**ctx.env, "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
                       cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.DEVNULL)
        marker.write_text("ok")
        time.sleep(2.1)  # a digest made within 2 s of the history's last change is not kept as is
        subprocess.run([*ctx.wbrun, "runs", "show", "bighist1", "--dir", str(store)],
                       env=ctx.env, check=True, stdout=subprocess.DEVNULL)  # the first call
    return store


MLFLOW_HISTORY_STEPS = 1_000_000  # 5M would take ~20 min to log into MLflow here


def _mlflow_history_row(ctx: Context, steps: int = MLFLOW_HISTORY_STEPS) -> Row:
    """The peer's read of one long metric: MLflow's `get_metric_history` (sqlite store, as
    `mlflow server` uses it) on a run whose `loss` has `steps` steps, logged by log_batch."""
    from benchmarks.timing import run_json

    folder = ctx.fresh_dir("big-mlflow-history")
    result, _ = run_json([ctx.peer_python, str(Path(__file__).parent / "peer_child.py"), "mlflow-history",
                          f"sqlite:///{folder / 'mlflow.db'}", str(steps)],
                         env=ctx.env, cwd=Path(__file__).parent, timeout=3600)
    return Row("big", f"peer: MLflow `get_metric_history`, one metric of {steps:,} steps",
               result["history_s"], "s", target="info", ok=None,
               detail=(f"peak RSS {result['peak_rss_mb']:.0f} MB ({result['rss_before_mb']:.0f} MB before the "
                       f"call); logging the steps took {result['log_s']:.0f} s"), data=result)


# --- many short SDK runs ---------------------------------------------------------------
def _init_row(ctx: Context, runs: int) -> Row:
    store = ctx.fresh_dir("big-init-store")
    code = ("import resource, time, wandb_cli as w\n"
            "def loop(n):\n"
            "    for i in range(n):\n"
            "        w.init(project='sweep'); w.log({'loss': i}); w.finish()\n"
            "loop(20)\n"
            "rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "t = time.perf_counter()\n"
            f"loop({runs})\n"
            "ms = (time.perf_counter() - t) / %d * 1000\n"
            "rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "print('{\"ms\": %%f, \"rss0\": %%d, \"rss1\": %%d}' %% (ms, rss0, rss1))\n" % runs)
    from benchmarks.timing import run_json

    env = {**ctx.env, "WBRUN_DIR": str(store), "WBRUN_SYSTEM": "1"}
    result, _ = run_json([ctx.python, "-c", code], env=env)
    made = len(list(store.glob("run-*")))
    if made != runs + 20:
        raise BenchError(f"{made} runs made, {runs + 20} expected")
    growth = (result["rss1"] - result["rss0"]) / 1024
    return Row("big", f"`init()` + `log()` + `finish()` in a loop, system metrics on, {runs:,} runs",
               result["ms"] / 1000, "s", target=f"<= {INIT_MAX_MS} ms",
               ok=at_most(result["ms"], INIT_MAX_MS),
               detail=f"peak RSS grew {growth:.1f} MB over the loop", data=result)


# --- arrays logged ---------------------------------------------------------------------
ARRAY_STEPS = 20


def _array_row(ctx: Context, steps: int = ARRAY_STEPS) -> Row:
    """`log()` of a (4000, 1000) float32 array each step (16 MB of numbers): seconds per
    call through finish and bytes on disk, wbrun against wandb offline where installed.
    Checked: every step's value is a histogram, not the numbers."""
    from benchmarks.timing import run_json

    store = ctx.fresh_dir("big-array-store")
    code = ("import json, os, time, numpy as np, wandb_cli as w\n"
            "a = np.random.default_rng(0).standard_normal((4000, 1000)).astype(np.float32)\n"
            "run = w.init(project='arrays')\n"
            "t = time.perf_counter()\n"
            f"for step in range({steps}):\n"
            "    run.log({'weights': a, 'loss': 1 / (step + 1)})\n"
            "logged = time.perf_counter() - t\n"
            "run.finish()\n"
            "done = time.perf_counter() - t\n"
            f"print(json.dumps({{'log_s': logged / {steps}, 'through_finish_s': done / {steps}}}))\n")
    ours, _ = run_json([ctx.python, "-c", code], env={**ctx.env, "WBRUN_DIR": str(store)})
    run_dir = sorted(store.glob("run-*"))[-1]
    size = sum(f.stat().st_size for f in run_dir.rglob("*") if f.is_file())
    import orjson

    with open(run_dir / "files" / "wandb-history.jsonl", "rb") as fh:
        kinds = {orjson.loads(line)["weights"].get("_type") for line in fh}
    if kinds != {"histogram"}:
        raise BenchError(f"logged arrays stored as {kinds}, not histograms")
    peers, detail = [], f"wbrun {size / 1e3:.0f} kB on disk for {steps} steps"
    if ctx.has("wandb"):
        peer_store = ctx.fresh_dir("big-array-wandb")
        theirs, _ = run_json([ctx.peer_python, str(Path(__file__).parent / "peer_child.py"),
                              "wandb-arrays", str(peer_store), str(steps)],
                             env=ctx.env, cwd=Path(__file__).parent)
        peers = [("wandb offline", theirs["through_finish_s"], "s")]
        detail += (f"; wandb offline {theirs['through_finish_s'] * 1000:.0f} ms a step through "
                   f"finish ({theirs['log_s'] * 1000:.0f} ms in log()), {theirs['bytes'] / 1e3:.0f} kB")
    return Row("big", f"`log()` of a (4000, 1000) float32 array, {steps} steps, through finish",
               ours["through_finish_s"], "s", peers, target="histograms, as W&B stores them",
               ok=True, detail=detail + f"; wbrun {ours['log_s'] * 1000:.0f} ms in log()",
               data={"wbrun": ours, "wandb": theirs if ctx.has("wandb") else None})
