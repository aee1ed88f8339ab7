"""`wbrun import ...`: runs recorded by other tools, brought into the store."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

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
