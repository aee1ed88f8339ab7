"""`wbrun ui`: serve the workspace and run pages for the store in a browser."""
from __future__ import annotations

import typer

from wandb_cli.cli.common import DirOption, open_store


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)


def ui(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; any other than the loopback needs the printed token."),
    port: int = typer.Option(8765, "--port", help="Port (0 picks a free one)."),
    open_browser: bool = typer.Option(False, "--open/--no-open", help="Open the page in a browser."),
    read_only: bool = typer.Option(False, "--read-only", help="Turn off tag, note, rename, stop, delete and restore."),
    dir: DirOption = None,
) -> None:
    """Serve the runs' workspace and run pages at http://127.0.0.1:8765 until Ctrl+C.

    Example: wbrun ui --port 0 --read-only
    """
    from wandb_cli.ui.server import serve

    serve(open_store(dir), host=host, port=port, read_only=read_only, open_browser=open_browser)
