"""`wbrun runs media`: list a run's media files (images, tables, audio...) and copy them out."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from wandb_cli.cli.common import DirOption, check_format, open_store


def register(runs_app: typer.Typer) -> None:
    runs_app.command("media")(media)


def media(
    run: str = typer.Argument(..., help="Run ID, unique ID prefix or name."),
    key: Optional[str] = typer.Option(None, "--key", "-k", help="Only the media logged under this key."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Copy the files into this folder (paths below files/media/ kept)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    dir: DirOption = None,
) -> None:
    """List a run's media (images, tables, audio, video, HTML, 3-D objects); --output copies them.

    Example: wbrun runs media abc12345 --key samples --output ./samples
    """
    from wandb_cli.store.layout import RunPaths
    from wandb_cli.store.mediafiles import copy_media, list_media

    check_format(fmt, ("table", "json"))
    record = open_store(dir).find(run)
    files_dir = RunPaths(Path(record.dir)).files
    items = [item for item in list_media(files_dir) if key is None or item["key"] == key]
    if output is not None:
        copy_media(files_dir, items, output)
    _print_media(items, fmt=fmt, copied_to=output)


def _print_media(items: list[dict], *, fmt: str, copied_to: Optional[Path]) -> None:
    import sys

    if fmt == "json":
        from wandb_cli.views.output import print_json

        print_json(items)
    elif items:
        from wandb_cli.textfmt import fmt_size
        from wandb_cli.views import render

        rows = [[item["kind"], item["key"], item["step"], item["path"], fmt_size(item["size"])]
                for item in items]
        render.console().print(render.table(["kind", "key", "step", "path", "size"], rows))
    if not items:
        print("wbrun: no media in this run", file=sys.stderr)
    elif copied_to is not None:
        from wandb_cli.textfmt import printable

        print(f"wbrun: copied {len(items)} files to {printable(str(copied_to))}", file=sys.stderr)
