"""`wbrun import ...`: runs recorded by other tools, brought into the store.

Invariant: importing is idempotent (a run imported before is found by its source and left
alone); W&B and MLflow runs keep their IDs when the store has never used them, else get a
new one and the mapping is printed.  Each source is one subcommand of this group.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from wandb_cli.cli.common import DirOption, open_store

app = typer.Typer(help="Import runs recorded by other tools.\n\nExample: wbrun import tensorboard ./runs",
                  no_args_is_help=True, rich_markup_mode=None)


@app.command("tensorboard")
def tensorboard(
    logdir: Path = typer.Argument(..., help="Folder of TensorBoard logs (each sub-folder with event files becomes a run)."),
    project: Optional[str] = typer.Option(None, "--project", "-p", help="Project of the new runs."),
    dir: DirOption = None,
) -> None:
    """Import TensorBoard event files as runs (scalars and histograms; again: skips what is there).

    Example: wbrun import tensorboard ./runs --project cleanrl
    """
    from wandb_cli.media.tbimport import import_logdir
    from wandb_cli.textfmt import printable

    results = import_logdir(open_store(dir), logdir, project=project)
    for item in results:
        where = printable(str(item.folder))
        if item.status == "imported":
            print(f"wbrun: imported {where} as run {item.run_id} ({printable(item.name)}, "
                  f"{item.steps} steps)", file=sys.stderr)
        elif item.status == "skipped":
            print(f"wbrun: {where} is already run {item.run_id}; skipped (delete that run to "
                  "import it again)", file=sys.stderr)
        else:
            print(f"wbrun: error: {where}: {printable(item.status)}", file=sys.stderr)
    sys.stdout.write("".join(f"{item.run_id}\n" for item in results if item.status == "imported"))
    if any(item.status.startswith("failed") for item in results):
        raise typer.Exit(1)


def _report(outcome) -> None:
    from wandb_cli.textfmt import printable

    print(printable(outcome.line()), flush=True)


@app.command("wandb")
def import_wandb(
    paths: List[Path] = typer.Argument(..., metavar="PATH...", help="offline-run-* folders or their run-*.wandb files."),
    dir: DirOption = None,
) -> None:
    """Import W&B offline runs (offline-run-*/run-*.wandb).

    Example: wbrun import wandb wandb/offline-run-20240101_120000-abc123
    """
    from wandb_cli.sync.from_wandb import import_paths

    store = open_store(dir)
    for outcome in import_paths(store, [Path(p) for p in paths]):
        _report(outcome)


@app.command("mlflow")
def import_mlflow(
    uri: str = typer.Argument(..., metavar="URI", help="Tracking URI: http(s)://host:port, sqlite:///path or a folder."),
    experiment: Optional[List[str]] = typer.Option(None, "--experiment", help="Only this experiment (repeatable; default all)."),
    dir: DirOption = None,
) -> None:
    """Import the runs of an MLflow tracking server or store.

    Example: wbrun import mlflow http://127.0.0.1:5000 --experiment mnist
    """
    from wandb_cli.sync.from_mlflow import import_uri

    store = open_store(dir)
    for outcome in import_uri(store, uri, experiments=list(experiment or [])):
        _report(outcome)
    sys.stdout.flush()
