"""Suite 5: the system sampler's CPU cost, at 0.1 s and at the default interval, for both
places it runs: an SDK-only run (a sampler process of its own) and a wrapped run (a thread
in the wrapper).

Invariant: the sampler's cost is the CPU time of a run with the sampler on minus the same
run with it off (same process tree, same idle time), so the run's own upkeep (ticker,
heartbeat, start-up) is not charged to it.  At the default interval (15 s) a short run
holds too few samples to time, so that figure is derived: CPU per sample (measured at
0.1 s) divided by the interval, exact for a sampler that does nothing between samples.
"""
from __future__ import annotations

import statistics
from pathlib import Path

from benchmarks.context import BENCH_DIR, Context
from benchmarks.report import Row
from benchmarks.suite_sdk import repeat
from benchmarks.timing import run_once

FAST_INTERVAL_S = 0.1
WINDOW_S = 4.0


def run(ctx: Context) -> list[Row]:
    from wandb_cli.sysmetrics.host import DEFAULT_INTERVAL_S

    on, off = _sdk_runs(ctx, "on"), _sdk_runs(ctx, "off")
    extra_cpu = _med(on, "window_cpu_s") - _med(off, "window_cpu_s")
    window, samples = _med(on, "window_s"), _med(on, "samples")
    per_sample = extra_cpu / samples if samples else None
    wrapped = _wrapped(ctx)
    return [
        Row("sampler", f"SDK run (sampler process): CPU at {FAST_INTERVAL_S} s interval",
            100 * extra_cpu / window, "%", [("CPU per sample", per_sample, "s")],
            detail=f"{samples:.0f} samples in {window:.1f} s", data={"on": on, "off": off}),
        Row("sampler", f"SDK run: CPU at the default {DEFAULT_INTERVAL_S:g} s interval (derived)",
            None if per_sample is None else 100 * per_sample / DEFAULT_INTERVAL_S, "%",
            detail="CPU per sample / interval"),
        Row("sampler", "SDK run: the sampler's start (a Python process, psutil, first sample)",
            _med(on, "start_cpu_s") - _med(off, "start_cpu_s"), "s",
            detail="CPU time, once per run"),
        Row("sampler", f"wrapped run (sampler thread): CPU per sample at {FAST_INTERVAL_S} s",
            wrapped["per_sample_s"], "s",
            [(f"at the default {DEFAULT_INTERVAL_S:g} s (derived)",
              100 * wrapped["per_sample_s"] / DEFAULT_INTERVAL_S, "%")],
            detail=f"{wrapped['samples']:.0f} samples; includes its one-off start", data=wrapped),
    ]


def _sdk_runs(ctx: Context, mode: str) -> list[dict]:
    store = ctx.fresh_dir(f"sampler-{mode}")
    return repeat(ctx, [ctx.python, str(BENCH_DIR / "sampler_child.py"), str(store),
                        str(FAST_INTERVAL_S), str(WINDOW_S), mode])


def _wrapped(ctx: Context) -> dict:
    """`wbrun -- sleep 4` with the sampler every 0.1 s, and with --no-system: the CPU the
    wrapper and its children used, from wait4."""
    cpu, samples = {}, 0.0
    for mode, flag in (("on", ["--system-interval", str(FAST_INTERVAL_S)]), ("off", ["--no-system"])):
        store = ctx.fresh_dir(f"sampler-wrap-{mode}")
        argv = [*ctx.wbrun, "-q", "--dir", str(store), *flag, "--", "sleep", str(WINDOW_S)]
        runs = [run_once(argv, env=ctx.env, cwd=store)[2] for _ in range(ctx.warmup + ctx.reps)]
        cpu[mode] = statistics.median(runs[ctx.warmup:])
        if mode == "on":
            samples = _events(store) / len(runs)
    per_sample = (cpu["on"] - cpu["off"]) / samples if samples else None
    return {"per_sample_s": per_sample, "samples": samples, "cpu_on_s": cpu["on"],
            "cpu_off_s": cpu["off"]}


def _events(store: Path) -> int:
    lines = 0
    for run_dir in store.glob("run-*"):
        events = run_dir / "files" / "wandb-events.jsonl"
        if events.exists():
            lines += events.read_bytes().count(b"\n")
    return lines


def _med(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)
