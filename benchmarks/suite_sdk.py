"""Suite 3: the SDK in a training process: import, init(), 20,000 log() calls of five floats
(one call per step), finish(); bytes per step on disk.

Invariant: wbrun and the peers log the same values (workload.step_values), each
repetition in a fresh process; wbrun's rate counts only if every line was already in the
history file, read through another handle, before finish() (lines handed to the OS).
"""
from __future__ import annotations

import statistics

from benchmarks.context import BENCH_DIR, Context
from benchmarks.report import Row, at_least, at_most, ratio
from benchmarks.timing import run_json

MIN_STEPS_PER_S = 100_000
MIN_TIMES_WANDB = 25.0
MAX_BYTES_PER_STEP = 160
MLFLOW_STEPS = {"file": 2_000, "sqlite": 1_000}  # MLflow logs ~10^2-10^3 steps/s


def repeat(ctx: Context, argv: list[str], env: dict | None = None) -> list[dict]:
    """The JSON result of each timed repetition (after the warm-up), wall time added."""
    out = []
    for i in range(ctx.warmup + ctx.reps):
        result, wall = run_json(argv, env=env or ctx.env, cwd=ctx.work)
        if i >= ctx.warmup:
            out.append({**result, "wall_s": wall})
    return out


def med(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def rate(results: list[dict]) -> float:
    return statistics.median(r["steps"] / r["log_s"] for r in results)


def run(ctx: Context) -> list[Row]:
    ours = {v: _wbrun(ctx, v) for v in ("typical", "full")}
    wandb = {v: _wandb(ctx, v) for v in ("typical", "full")} if ctx.has("wandb") else {}
    mlflow = {b: _mlflow(ctx, b) for b in MLFLOW_STEPS} if ctx.has("mlflow") else {}
    rows = _phase_rows(ours["typical"], wandb.get("typical"), mlflow)
    rows += _rate_rows(ctx, ours, wandb, mlflow)
    rows += _bytes_rows(ours, wandb, mlflow)
    return rows


def _wbrun(ctx: Context, variant: str) -> list[dict]:
    store = ctx.fresh_dir(f"sdk-{variant}")
    return repeat(ctx, [ctx.python, str(BENCH_DIR / "sdk_child.py"), str(store),
                        str(ctx.steps), variant])


def _wandb(ctx: Context, variant: str) -> list[dict]:
    store = ctx.fresh_dir(f"wandb-{variant}")
    results = []
    for _ in range(ctx.warmup + ctx.reps):  # one store per run: the .wandb file is per run
        run_dir = ctx.fresh_dir(f"wandb-{variant}/{len(results)}")
        result, wall = run_json([ctx.peer_python, str(BENCH_DIR / "peer_child.py"), "wandb-log",
                                 str(run_dir), str(ctx.steps), variant], env=ctx.env, cwd=store)
        results.append({**result, "wall_s": wall})
    return results[ctx.warmup:]


def _mlflow(ctx: Context, backend: str) -> list[dict]:
    store = ctx.fresh_dir(f"mlflow-log-{backend}")
    uri = f"file:{store}/mlruns" if backend == "file" else f"sqlite:///{store}/mlflow.db"
    env = {**ctx.env, "MLFLOW_ALLOW_FILE_STORE": "true"}
    return repeat(ctx, [ctx.peer_python, str(BENCH_DIR / "peer_child.py"), "mlflow-log", uri,
                        str(MLFLOW_STEPS[backend]), "typical"], env=env)


def _peers(wandb: list[dict] | None, mlflow: dict, key) -> list:
    out = []
    if wandb:
        out.append(("wandb offline", key(wandb), ""))
    for backend, results in mlflow.items():
        out.append((f"MLflow {backend} store", key(results), ""))
    return out


def _with_unit(pairs: list, unit: str) -> list:
    return [(name, value, unit) for name, value, _ in pairs]


def _phase_rows(ours: list[dict], wandb: list[dict] | None, mlflow: dict) -> list[Row]:
    rows = []
    for key, label in (("import_s", "SDK import, in process"), ("init_s", "`init()`"),
                       ("finish_s", "`finish()`")):
        peers = _with_unit(_peers(wandb, mlflow, lambda r, k=key: med(r, k)), "s")
        rows.append(Row("sdk", label, med(ours, key), "s", peers,
                        data={"values": [r[key] for r in ours]}))
    whole = _with_unit(_peers(wandb, {}, _unsettled_wall), "s")
    rows.append(Row("sdk", "whole process: import + init + 20,000 log() + finish",
                    _unsettled_wall(ours), "s", whole, detail="less the 1 s pause after init",
                    data={"values": [r["wall_s"] - r["settle_s"] for r in ours]}))
    return rows


def _unsettled_wall(results: list[dict]) -> float:
    return statistics.median(r["wall_s"] - r["settle_s"] for r in results)


def _rate_rows(ctx: Context, ours: dict, wandb: dict, mlflow: dict) -> list[Row]:
    typical = ours["typical"]
    flushed = all(r["lines_before_finish"] == r["steps"] for r in typical)
    steps_per_s = rate(typical)
    peers = _with_unit(_peers(wandb.get("typical"), mlflow, rate), "steps/s")
    rows = [Row("sdk", f"`log()`, {ctx.steps:,} steps x 5 floats (typical values)", steps_per_s,
                "steps/s", peers, target=">= 100,000 steps/s, every line handed to the OS",
                ok=bool(at_least(steps_per_s, MIN_STEPS_PER_S)) and flushed,
                detail="all lines in the file before finish()" if flushed else "LINES MISSING before finish()",
                data={"values": [r["steps"] / r["log_s"] for r in typical]})]
    if wandb:
        times = ratio(steps_per_s, rate(wandb["typical"]))
        rows.append(Row("sdk", "`log()` rate, wbrun over wandb offline", times, "x",
                        peers[:1], target=">= 25x wandb offline", ok=at_least(times, MIN_TIMES_WANDB)))
    else:
        rows.append(Row("sdk", "`log()` rate, wbrun over wandb offline", None, "x",
                        target=">= 25x wandb offline", detail="wandb not installed"))
    full = _with_unit(_peers(wandb.get("full"), {}, rate), "steps/s")
    rows.append(Row("sdk", "`log()`, full-precision doubles", rate(ours["full"]), "steps/s", full,
                    data={"values": [r["steps"] / r["log_s"] for r in ours["full"]]}))
    return rows


def _bytes_rows(ours: dict, wandb: dict, mlflow: dict) -> list[Row]:
    rows = []
    for variant, label in (("typical", "disk per step (typical values)"),
                           ("full", "disk per step (full-precision doubles)")):
        per_step = med(ours[variant], "history_bytes") / ours[variant][0]["steps"]
        peers = []
        if wandb:
            peers.append(("wandb offline (.wandb file)", _per_step(wandb[variant]), "B/step"))
        if variant == "typical" and "file" in mlflow:
            peers.append(("MLflow file store (metrics/)", _per_step(mlflow["file"]), "B/step"))
        judged = variant == "typical"
        rows.append(Row("sdk", label, per_step, "B/step", peers,
                        target="<= 160 B/step" if judged else "",
                        ok=at_most(per_step, MAX_BYTES_PER_STEP) if judged else None))
    return rows


def _per_step(results: list[dict]) -> float | None:
    sizes = [r["data_bytes"] / r["steps"] for r in results if r.get("data_bytes")]
    return statistics.median(sizes) if sizes else None
