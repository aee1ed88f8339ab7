"""The only module that imports Rich: tables and overviews for the terminal.

Invariant: user text reaches Rich only as `Text` built from `printable()` strings, never as
markup, so `[bold]` in a run name prints as `[bold]` and no escape sequence gets through.
"""
from __future__ import annotations

import datetime as _dt
import math
import sys
from typing import Any, Iterable

from wandb_cli.textsafe import printable


def console(stderr: bool = False):
    from rich.console import Console

    return Console(file=sys.stderr if stderr else sys.stdout, highlight=False, markup=False,
                   emoji=False, soft_wrap=False)


def text(value: Any, style: str | None = None):
    from rich.text import Text

    return Text(printable(value), style=style or "")


STATE_STYLES = {"running": "cyan", "finished": "green", "failed": "red", "killed": "yellow",
                "crashed": "magenta", "corrupt": "red"}


def fmt_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        from wandb_cli import jsonio

        return jsonio.dumps(value).decode("utf-8", "replace")
    return str(value)


def fmt_time(ts: float | None) -> str:
    if ts is None:
        return ""
    return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def table(headers: Iterable[str], rows: Iterable[Iterable[Any]], *, title: str | None = None,
          styles: dict[int, Any] | None = None):
    from rich import box
    from rich.table import Table

    grid = Table(box=box.SIMPLE_HEAD, title=title, show_edge=False, pad_edge=False)
    for header in headers:
        grid.add_column(text(header), overflow="fold")
    for row in rows:
        grid.add_row(*(cell if hasattr(cell, "__rich__") or _is_text(cell) else text(fmt_value(cell))
                       for cell in row))
    return grid


def _is_text(cell: Any) -> bool:
    from rich.text import Text

    return isinstance(cell, Text)


def state_text(state: str):
    return text(state, STATE_STYLES.get(state))


def key_values(pairs: Iterable[tuple[str, Any]]):
    """A two-column grid of labels and values, for overviews."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in pairs:
        grid.add_row(text(label), value if _is_text(value) else text(fmt_value(value)))
    return grid


def section(title: str):
    from rich.rule import Rule

    return Rule(text(title, "bold"), align="left")
