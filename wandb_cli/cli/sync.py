"""`wbrun sync --to mlflow|wandb` and `wbrun doctor`: thin commands over wandb_cli.sync.

Invariant: each run gets one line on stdout; what the user must know about a run (a config
value changed after its push, a value MLflow cannot hold) goes to stderr, one line each.
A missing optional package is a UsageError naming the extra (exit 2).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from wandb_cli.cli.common import DirOption, open_store
from wandb_cli.errors import UsageError, WbrunError

TARGETS = ("mlflow", "wandb")


def register(app: typer.Typer) -> None:
    app.command("sync")(sync)
    app.command("doctor")(doctor)


def _say(line: str, *, err: bool = False) -> None:
    from wandb_cli.textfmt import printable

    print(printable(line), file=sys.stderr if err else sys.stdout, flush=True)


def sync(
    args: Optional[List[str]] = typer.Argument(None, metavar="[URI] [RUN...]", show_default=False, help="--to mlflow: the tracking URI, then run IDs, ID prefixes or names."),
    to: str = typer.Option(..., "--to", metavar="mlflow|wandb", help="Where to: an MLflow tracking server, or W&B offline runs."),
    filter_expr: Optional[str] = typer.Option(None, "--filter", help="Sync the runs this filter matches."),
    all_runs: bool = typer.Option(False, "--all", help="Sync every run."),
    experiment: Optional[str] = typer.Option(None, "--experiment", help="MLflow experiment (default: each run's project)."),
    watch: bool = typer.Option(False, "--watch", help="Keep following running runs until they end."),
    interval: float = typer.Option(2.0, "--interval", help="Seconds between --watch rounds."),
    out: Optional[Path] = typer.Option(None, "--out", help="W&B: folder for the offline runs (default ./wandb-export)."),
    dir: DirOption = None,
) -> None:
    """Push runs to an MLflow tracking server or write them as W&B offline runs.

    \b
    Examples:
      wbrun sync --to mlflow http://127.0.0.1:5000 --all
      wbrun sync --to mlflow sqlite:///mlflow.db --filter 'state = finished' --experiment mnist
      wbrun sync --to mlflow http://mlflow:5000 RUN --watch
      wbrun sync --to wandb --all --out exported/
    """
    refs = list(args or [])
    if to not in TARGETS:
        raise UsageError(f"bad --to {to!r}: choose mlflow or wandb")
    store = open_store(dir)
    if to == "mlflow":
        if not refs:
            raise UsageError("--to mlflow needs a tracking URI: wbrun sync --to mlflow URI RUN...")
        _sync_mlflow(store, refs[0], refs[1:], filter_expr, all_runs, experiment, watch, interval)
    else:
        _sync_wandb(store, refs, filter_expr, all_runs, out)


def _sync_mlflow(store, uri, refs, filter_expr, all_runs, experiment, watch, interval) -> None:
    from wandb_cli.sync.select import follow, select_runs
    from wandb_cli.sync.to_mlflow import MlflowTarget, quiet_mlflow

    records = select_runs(store, refs, filter_expr=filter_expr, all_runs=all_runs)
    quiet_mlflow()
    target = MlflowTarget(uri, experiment=experiment, store_root=store.root)
    failures: list[int] = []

    def push(record):
        try:
            result = target.push(record)
        except WbrunError as exc:  # one line for this run; the others still go
            _say(f"wbrun: error: {exc.render()}", err=True)
            failures.append(int(exc.exit_code))
            return None
        for note in result.notes:
            _say(f"wbrun: run {record.id}: {note}", err=True)
        what = "created" if result.created else ("updated" if result.changed else "up to date")
        _say(f"{record.id} -> mlflow run {result.remote_id} ({result.experiment}): {what}, "
             f"{result.rows} rows, {result.metrics} metric points, {result.params} params, "
             f"{result.tags} tags, {result.files} files, {result.status}")
        return result

    follow(store, records, push, watch=watch, interval_s=interval)
    if failures:
        raise typer.Exit(max(failures))


def _sync_wandb(store, refs, filter_expr, all_runs, out) -> None:
    from wandb_cli.sync.select import select_runs
    from wandb_cli.sync.to_wandb import export_runs

    records = select_runs(store, refs, filter_expr=filter_expr, all_runs=all_runs)
    out_dir = (out or Path("wandb-export")).resolve()
    written = export_runs(store, records, out_dir, report=_say)
    if written:
        import shlex

        # wandb >= 0.30 refuses --include-offline ("removed"): offline-run-* folders are
        # what `wandb sync PATHS` uploads by default
        _say(f"upload with: wandb sync {shlex.quote(str(out_dir / 'wandb'))}/offline-run-*")


def doctor(dir: DirOption = None) -> None:
    """Test the store's filesystem (locks, NFS/Lustre) and say what was found.

    Example: wbrun doctor --dir /shared/wandb
    """
    from wandb_cli.store.fscheck import check_store

    store = open_store(dir)
    findings = check_store(store.root)
    worst = 0
    for finding in findings:
        _say(f"{finding.level:<5} {finding.text}")
        worst = max(worst, {"ok": 0, "info": 0, "warn": 0, "fail": 1}[finding.level])
    if worst:
        raise typer.Exit(1)
