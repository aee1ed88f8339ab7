"""The only module that imports Rich: tables and overviews for the terminal.

Invariant: user text reaches Rich only as `Text` built from `printable()` strings, never as
markup, so `[bold]` in a run name prints as `[bold]` and no escape sequence gets through.
"""
from __future__ import annotations

import sys
from typing import Any, Iterable

from wandb_cli.textfmt import printable
from wandb_cli.views.columns import Fitted, fmt_value


def console(stderr: bool = False, width: int | None = None):
    from rich.console import Console

    return Console(file=sys.stderr if stderr else sys.stdout, highlight=False, markup=False,
                   emoji=False, soft_wrap=False, width=width)


def text(value: Any, style: str | None = None):
    from rich.text import Text

    return Text(printable(value), style=style or "")


STATE_STYLES = {"running": "cyan", "finished": "green", "failed": "red", "killed": "yellow",
                "crashed": "magenta", "corrupt": "red"}


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


def fitted_table(fitted: Fitted):
    """A `runs_table.Fitted` as a Rich table: widths fixed, one line per row, cells already
    cropped by the core, so Rich neither wraps nor re-crops them."""
    from rich import box
    from rich.table import Table

    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column, header, width in zip(fitted.columns, fitted.headers, fitted.widths):
        grid.add_column(text(header), width=width, no_wrap=True, overflow="crop",
                        justify="right" if column.align == "right" else "left")
    state_columns = [column.style == "state" for column in fitted.columns]
    for row in fitted.rows():
        grid.add_row(*(state_text(cell) if is_state else text(cell)
                       for cell, is_state in zip(row, state_columns)))
    return grid


def print_fitted(fitted: Fitted) -> None:
    """The table, then a dim footer naming the columns that did not fit."""
    con = console(width=max(fitted.total_width, fitted.width or 0, 1))
    con.print(fitted_table(fitted))
    footer = fitted.footer()
    if footer:
        con.print(text(footer, "dim"))
