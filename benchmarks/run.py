"""The one command that runs every benchmark, prints the table and writes the JSON.

    python -m benchmarks [--reps 5] [--warmup 1] [--sizes 2000,10000,100000]
                         [--peer-python /tmp/benchpeers/bin/python | --no-peers]
                         [--only startup,sdk,query,sampler,ui,sync] [--work /tmp/wbrun-bench]
                         [--json benchmarks/results/latest.json]

Run it from the checkout with the interpreter that has wbrun installed.  Exit status: 0 when
every target measured passes, 1 when one fails, 2 when a measurement itself failed.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from benchmarks import suite_big, suite_query, suite_sampler, suite_sdk, suite_startup, suite_sync, suite_ui
from benchmarks.context import REPO, Context, file_create_us, filesystem_of, machine, make_context
from benchmarks.report import Row, markdown_table, summary_line
from benchmarks.timing import BenchError, load_average

SUITES = ("startup", "sdk", "query", "sampler", "ui", "big", "sync")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions (median), >= 1")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs before them")
    parser.add_argument("--sizes", default="2000,10000,100000", help="query store sizes")
    parser.add_argument("--steps", type=int, default=20_000, help="log() calls per SDK run")
    parser.add_argument("--only", default=",".join(SUITES), help="suites to run")
    parser.add_argument("--big-mb", type=int, default=500, help="MB of output for suite big's pump (0: no pump rows)")
    parser.add_argument("--big-steps", type=int, default=5_000_000, help="history steps for suite big")
    parser.add_argument("--big-runs", type=int, default=1000, help="init/finish loop runs for suite big")
    parser.add_argument("--peer-python", help="interpreter with wandb and mlflow installed")
    parser.add_argument("--no-peers", action="store_true", help="measure wbrun alone")
    parser.add_argument("--work", type=Path, default=Path("/tmp/wbrun-bench"),
                        help="where stores and runs are written (reused between invocations)")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "latest.json")
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(SUITES)
    if unknown or args.reps < 1:
        parser.error(f"unknown suite(s) {sorted(unknown)}" if unknown else "--reps must be >= 1")
    return args


def run_suites(ctx: Context, args: argparse.Namespace) -> list[Row]:
    chosen = args.only.split(",")
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[Row] = []
    for name in SUITES:
        if name not in chosen:
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        if name == "startup":
            rows += suite_startup.run(ctx)
        elif name == "sdk":
            rows += suite_sdk.run(ctx)
        elif name == "query":
            rows += suite_query.run(ctx, sizes)
        elif name == "ui":
            rows += suite_ui.run(ctx)
        elif name == "big":
            rows += suite_big.run(ctx, pump_mb=args.big_mb, history_steps=args.big_steps,
                                  init_runs=args.big_runs)
        elif name == "sync":
            rows += suite_sync.run(ctx)
        else:
            rows += suite_sampler.run(ctx)
        print(f"  {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    ctx = make_context(reps=args.reps, warmup=args.warmup, work=args.work,
                       peer_python=args.peer_python, use_peers=not args.no_peers, steps=args.steps)
    header = {"command": shlex.join([sys.executable, "-m", "benchmarks", *(argv or sys.argv[1:])]),
              "machine": machine(), "work": str(ctx.work), "work_fs": filesystem_of(ctx.work),
              "file_create_us": file_create_us(ctx.work), "load_before": load_average(),
              "reps": ctx.reps, "warmup": ctx.warmup, "wbrun": ctx.wbrun,
              "python": ctx.python, "peer_python": ctx.peer_python, "peers": ctx.peers}
    try:
        rows = run_suites(ctx, args)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        sys.exit(2)
    header["load_after"] = load_average()
    _write(args.json, {**header, "notes": ctx.notes, "rows": [r.as_json() for r in rows]})
    _print(header, ctx.notes, rows, args.json)
    sys.exit(1 if any(r.verdict == "FAIL" for r in rows) else 0)


def _write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


def _print(header: dict, notes: list[str], rows: list[Row], path: Path) -> None:
    m = header["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, {m['os']}, "
          f"Python {m['python']}; checkout {m['commit']}{' (dirty)' if m['dirty'] else ''}")
    print(f"work folder {header['work']} ({header['work_fs']}, {header['file_create_us']} us per "
          f"file create); load average {header['load_before']} -> {header['load_after']}")
    print(f"medians of {header['reps']} runs after {header['warmup']} warm-up; peers: "
          f"{', '.join(f'{k} {v}' for k, v in header['peers'].items()) or 'none'}")
    for note in notes:
        print(f"note: {note}")
    print()
    print(markdown_table(rows))
    print()
    print(summary_line(rows))
    print(f"JSON written to {path}")
