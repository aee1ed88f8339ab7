"""`wbrun runs plot`: line charts of runs' metrics in the terminal, or in an SVG/PNG file.

The chart text goes straight to stdout (never through Rich, so a run name is never taken
for markup); notes about what was chosen or left out go to stderr, so a redirected chart
stays clean.  The size defaults come from COLUMNS/LINES, so output is the same on every
machine once those are fixed.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer

from wandb_cli.cli.common import DirOption, open_store, stdout_is_tty
from wandb_cli.errors import UsageError

if TYPE_CHECKING:
    from wandb_cli.store.model import RunRecord

SVG_WIDTH_PX, SVG_PANEL_HEIGHT_PX = 800, 260


def register(runs_app: typer.Typer) -> None:
    runs_app.command("plot")(plot)


def plot(
    runs: Optional[List[str]] = typer.Argument(
        None, metavar="RUN", show_default=False,
        help="Run IDs, ID prefixes or names (default: the runs `runs ls` selects)."),
    metric: List[str] = typer.Option([], "--metric", "-m", metavar="KEY", help="Metric to chart (repeatable; default: the ones the runs share)."),
    x_key: Optional[str] = typer.Option(None, "--x", metavar="KEY", help="x axis: _step (default), _runtime, _timestamp or a metric KEY."),
    smooth: int = typer.Option(1, "--smooth", metavar="N", help="Trailing mean over N points (1: raw values)."),
    log_y: bool = typer.Option(False, "--log-y", help="Logarithmic y axis."),
    system: bool = typer.Option(False, "--system", help="Chart system metrics (CPU, memory, GPU) against _runtime."),
    group_by: List[str] = typer.Option([], "--group-by", "-g", metavar="KEY", help="Draw each group of runs as its mean with a min-max band (repeatable)."),
    filter_expr: Optional[str] = typer.Option(None, "--filter", metavar="EXPR", help="Only runs matching this filter (as in runs ls)."),
    search: Optional[str] = typer.Option(None, "--search", "-s", metavar="REGEX", help="Only runs whose name or ID matches."),
    sort: List[str] = typer.Option([], "--sort", metavar="[-]KEY", help="Order by KEY or -KEY (repeatable; default newest first)."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", metavar="N", help="At most N runs (default 10 unless RUNs or --group-by)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write an .svg (or .png) file instead of drawing here."),
    width: Optional[int] = typer.Option(None, "--width", metavar="N", help="Width: columns (default: the terminal's), or pixels with --output.", show_default=False),
    height: Optional[int] = typer.Option(None, "--height", metavar="N", help="Plot height per chart: rows, or pixels with --output.", show_default=False),
    dir: DirOption = None,
) -> None:
    """Chart runs' metrics as line charts, one per metric, one line per run.

    Example: wbrun runs plot --metric loss --smooth 10 --filter 'config.lr < 0.1'
    """
    from wandb_cli.charts import panels as plotdata

    for name, value in (("--width", width), ("--height", height)):
        if value is not None and value < 1:
            raise UsageError(f"bad {name} {value}: expected a positive size")
    request = plotdata.PlotRequest(metrics=tuple(metric), x_key=x_key, smooth_window=smooth, log_y=log_y,
                                   system=system, group_by=tuple(group_by), sort=tuple(sort))
    records, notes = _select(runs or [], filter_expr=filter_expr, search=search, sort=sort, limit=limit,
                             grouped=bool(group_by), dir_option=dir)
    _print_notes(notes)  # (first: which runs were chosen explains an error about them)
    result = plotdata.plot_runs(records, request)
    _print_notes(result.notes)
    if output is not None:
        _write_file(output, result.panels, width=width, height=height)
    else:
        _draw(result.panels, width=width, height=height)


def _select(refs: list[str], *, filter_expr, search, sort, limit, grouped, dir_option):
    from wandb_cli.charts.panels import select_plot_runs

    store = open_store(dir_option)
    if refs:
        found: dict[str, RunRecord] = {}
        for ref in refs:
            record = store.find(ref)
            found.setdefault(record.id, record)
        records = list(found.values())
    else:
        records = list(store.iter_runs())
    return select_plot_runs(records, explicit=bool(refs), filter_expr=filter_expr, search=search, sort=sort,
                            limit=limit, grouped=grouped)


def _print_notes(notes: list[str]) -> None:
    from wandb_cli.textfmt import printable

    for note in notes:
        print(f"wbrun: note: {printable(note)}", file=sys.stderr)


def _draw(panels, *, width: int | None, height: int | None) -> None:
    import shutil

    from wandb_cli.charts.term import color_enabled, render_panels

    columns, lines = shutil.get_terminal_size()
    text = render_panels(panels, width=width or columns, height=height or max(5, min(20, lines - 9)),
                         color=color_enabled(os.environ, isatty=stdout_is_tty()))
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:  # a non-UTF-8 locale: braille dots still go out as UTF-8
        sys.stdout.flush()
        sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.flush()


def _write_file(path: Path, panels, *, width: int | None, height: int | None) -> None:
    from wandb_cli.charts.svg import write_chart
    from wandb_cli.textfmt import printable

    write_chart(path, panels, width=width or SVG_WIDTH_PX, panel_height=height or SVG_PANEL_HEIGHT_PX)
    count = len(panels)
    print(f"wbrun: wrote {count} chart{'s' * (count != 1)} to {printable(path)}", file=sys.stderr)
