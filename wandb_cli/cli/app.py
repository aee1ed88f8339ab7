"""Assembles the Typer application from the command modules (one module per group)."""
from __future__ import annotations

import typer

ROOT_HELP = """Keep Weights & Biases-style runs on the local disk.

\b
Wrap any command as a run (options: wbrun wrap --help):
  wbrun [OPTIONS] -- COMMAND [ARGS]...
Log a step from a shell inside a run (wbrun log --help):
  wbrun log KEY=VALUE...

\b
Examples:
  wbrun -p mnist -c lr=0.01 -- python train.py
  wbrun runs ls --filter 'val_loss <= 1' --sort -accuracy
"""


def build_app() -> typer.Typer:
    from wandb_cli.cli import artifact, manage, plot, runs

    app = typer.Typer(
        name="wbrun", help=ROOT_HELP, no_args_is_help=True, add_completion=False,
        pretty_exceptions_enable=False, rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    plot.register(runs.app)
    manage.register(runs.app)
    artifact.register(app)
    artifact.register_runs(runs.app)
    from wandb_cli.cli.media import register as register_media
    register_media(runs.app)
    app.add_typer(runs.app, name="runs")
    from wandb_cli.cli import ui as ui_command
    ui_command.register(app)
    from wandb_cli.cli.importing import app as import_app
    app.add_typer(import_app, name="import")
    from wandb_cli.cli import sync  # wbrun sync, wbrun doctor

    sync.register(app)
    return app


def _root(
    version: bool = typer.Option(False, "--version", "-V", help="Print the version and exit."),
) -> None:
    if version:
        from wandb_cli._version import __version__

        typer.echo(f"wbrun {__version__}")
        raise typer.Exit()
