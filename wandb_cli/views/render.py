"""The only module that imports Rich: tables and overviews for the terminal.

Invariant: user text reaches Rich only as `Text` built from `printable()` strings, never as
markup, so `[bold]` in a run name prints as `[bold]` and no escape sequence gets through.
"""
from __future__ import annotations

import os
import sys
from itertools import repeat
from typing import Any, Iterable

from wandb_cli.textfmt import all_printable, printable
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


def print_fitted(fitted: Fitted) -> None:
    """The table, then a dim footer naming the columns that did not fit.

    Written line by line here, not through Rich: the cells are already cropped to fixed
    widths, so all a table needs is padding and a rule, and Rich's layout cost ~0.5 ms a row
    (20,000 runs: 10 s; this: ~0.2 s).  Colours follow Rich's judgement of the terminal
    (a tty, NO_COLOR, FORCE_COLOR, TERM=dumb) and the same styles (bold header, state
    colours, dim footer); the plain text is what a Rich Table (box SIMPLE_HEAD, no edges)
    of the same cells prints (tests/test_views_table.py compares them)."""
    from wandb_cli import nogc

    styled = _wants_color()
    out = sys.stdout
    lines = fitted_lines(fitted, styled=styled)
    lines.append("")  # (the last line's newline)
    out.write("\n".join(lines))
    footer = fitted.footer()
    if footer:
        out.write(_sgr(printable(footer), "dim", styled) + "\n")
    out.flush()
    nogc.output_written()


_SGR = {"bold": "1", "dim": "2", "cyan": "36", "green": "32", "red": "31", "yellow": "33", "magenta": "35"}


def _sgr(text: str, style: str | None, on: bool) -> str:
    return f"\x1b[{_SGR[style]}m{text}\x1b[0m" if on and style and text else text


def _wants_color() -> bool:
    """Rich's judgement; where it can only say no (NO_COLOR set, or not a terminal and
    neither FORCE_COLOR nor TTY_COMPATIBLE set), said without importing Rich (rich.console:
    ~16 ms of `python -X importtime` in a listing into a pipe)."""
    environ = os.environ
    if environ.get("NO_COLOR", "") != "":
        return False
    if "FORCE_COLOR" not in environ and "TTY_COMPATIBLE" not in environ and not _isatty(sys.stdout):
        return False
    con = console()
    return con.is_terminal and con.color_system is not None and not con.no_color


def _isatty(stream) -> bool:
    """As Rich asks it: an object without isatty, or a closed one, is no terminal."""
    isatty = getattr(stream, "isatty", None)
    try:
        return isatty is not None and bool(isatty())
    except ValueError:
        return False


def fitted_lines(fitted: Fitted, *, styled: bool = False) -> list[str]:
    """The table's lines: headers, a rule, one line per row; cells padded to their widths
    and parted by GAP spaces (Rich's SIMPLE_HEAD box without edges)."""
    from wandb_cli.textfmt import cell_width
    from wandb_cli.views.columns import GAP

    if not fitted.columns:
        return []
    gap = " " * GAP
    right = [column.align == "right" for column in fitted.columns]
    widths = fitted.widths

    def pad(cell: str, width: int, to_right: bool) -> str:
        room = width - (len(cell) if cell.isascii() else cell_width(cell))
        if room <= 0:
            return cell
        return " " * room + cell if to_right else cell + " " * room

    headers = [_sgr(pad(printable(h), w, r), "bold", styled)
               for h, w, r in zip(fitted.headers, widths, right)]
    lines = [gap.join(headers), "\u2500" * fitted.total_width]
    padded = []  # column by column: C-level where a column is plain ASCII (the usual case)
    for cells, column, width, to_right in zip(fitted.cut_columns(), fitted.columns, widths, right):
        texts = all_printable(cells)
        if "".join(texts).isascii():
            texts = list(map(str.rjust if to_right else str.ljust, texts, repeat(width)))
        else:
            texts = [pad(text, width, to_right) for text in texts]
        if styled and column.style == "state":
            texts = [_sgr(text, STATE_STYLES.get(cell), True) for text, cell in zip(texts, cells)]
        padded.append(texts)
    lines += map(gap.join, zip(*padded))
    return lines
