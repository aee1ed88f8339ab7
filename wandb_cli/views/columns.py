"""The columns of `wbrun runs ls`: which to show, their text, and fitting them to a width.

Invariant: a fitted table is never wider than the width it is given (while one column fits)
and every row stays one line: columns first shrink towards their minimum (long text cropped
with …), then whole columns are dropped, lowest priority first, and the caller gets their
headers to report.  Cell text is made `printable()` here, so any renderer shows user text
literally.  No Rich and no I/O in this module.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterable, Sequence

from wandb_cli.errors import UsageError
from wandb_cli.query.parse import format_key, parse_key
from wandb_cli.query.values import KeyResolver, leaf_key_paths, numeric_leaf_counts, values_of
from wandb_cli.store.model import RunRecord, iso
from wandb_cli.textfmt import (
    NUMBER_TYPES,
    all_printable,
    cell_width,
    crop,
    finite_sum,
    fmt_duration,
    fmt_times,
    printable,
    widest,
)

GAP = 3  # between two columns: a space of padding on each side and a blank divider
TIME_ATTRIBUTES = frozenset({"created", "ended", "heartbeat"})
MAX_DEFAULT_METRICS = 16
NAME_CAP, NAME_MIN, TEXT_CAP, TEXT_MIN = 80, 16, 40, 10
# a number column shrinks to its widest cell or its header, but not under this for a longer
# header; the least any column shrinks to (run_columns relies on it)
NUMBER_MIN = 8
assert NUMBER_MIN <= min(NAME_MIN, TEXT_MIN)


# -- formatting values ---------------------------------------------------------------------
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
        from wandb_cli.store import jsonio

        return jsonio.dumps(value).decode("utf-8", "replace")
    return str(value)



# -- columns -------------------------------------------------------------------------------
@dataclass
class Column:
    """One column: its key (as --columns and CSV name it), header, cells and raw values.

    `shrink_to` is the narrowest it may be cropped to, `cap` the widest it starts at (None:
    its content).  Numbers are never cropped, only their header."""

    key: str
    header: str
    cells: list[str]
    values: list[Any]
    priority: float
    align: str = "left"
    style: str = ""  # "state": coloured by each cell's state; "spark": a history sparkline
    shrink_to: int | None = None
    cap: int | None = None
    croppable: bool = True  # False: the user's --crop mode does not apply (headers only)
    # left out unmade: the columns before it (by priority) with it at its least already pass
    # the width it was to be fitted to, so fit() hides it whatever its cells (only its
    # header is kept)
    unmade: bool = False

    @cached_property
    def natural(self) -> int:  # (cached: fit() asks again for each column it drops)
        most = max(cell_width(self.header), widest(self.cells))
        return most if self.cap is None else min(most, self.cap)

    @property
    def minimum(self) -> int:
        return self.natural if self.shrink_to is None else min(self.natural, self.shrink_to)


def make_column(key: str, header: str, values: list[Any], priority: float, *,
                text_of: Callable[[Any], str] = fmt_value, cells: bool = True, **kind: Any) -> Column:
    """A column of `values`: numbers right-aligned and never cropped, text croppable.
    `cells=False`: no text (a column only looked at for its key, kind and values)."""
    kinds = set(map(type, values))  # (C-level: 100,000 runs, ~10x a Python pass)
    texts = all_printable(_texts(values, kinds, text_of)) if cells else []
    header = printable(header)
    kinds.discard(type(None))
    if kinds and kinds <= NUMBER_TYPES:
        defaults = {"align": "right", "croppable": False,
                    "shrink_to": max(widest(texts), min(cell_width(header), NUMBER_MIN))}
    else:
        defaults = {"shrink_to": TEXT_MIN, "cap": TEXT_CAP}
    return Column(key, header, texts, values, priority, **{**defaults, **kind})


def _texts(values: list[Any], kinds: set[type], text_of: Callable[[Any], str]) -> list[str]:
    """`text_of` of each value; a column of only finite floats, only ints or only strings
    shown by fmt_value is formatted by C-level maps (20,000 rows x 12 columns: the per-cell
    calls were most of a table's cost)."""
    if text_of is fmt_value and len(kinds) == 1:
        if kinds == {str}:
            return list(values)
        if kinds == {int}:
            return list(map(str, values))
        if kinds == {float} and finite_sum(values) is not None:
            return list(map(_SIX_DIGITS.format, values))
    return list(map(text_of, values))


_SIX_DIGITS = "{:.6g}"  # fmt_value's spelling of a finite float


def _attribute_column(name: str, records: Sequence[RunRecord], get: Callable,
                      priority: float, header: str, cells: bool = True, raw: bool = True) -> Column:
    values = list(map(get, records))
    if name in TIME_ATTRIBUTES:
        if not cells:
            return Column(name, header, [], values, priority, croppable=False)
        return Column(name, header, fmt_times(values),
                      list(map(iso, values)) if raw else [], priority, croppable=False)
    if name == "runtime":
        return make_column(name, header, values, priority, text_of=fmt_duration, cells=cells)
    if name == "tags":
        return make_column(name, header, [list(v) for v in values], priority,
                           text_of=lambda tags: ", ".join(map(str, tags)), cells=cells)
    if name == "name":
        return make_column(name, header, values, priority, shrink_to=NAME_MIN, cap=NAME_CAP, cells=cells)
    if name in ("id", "state"):
        style = "state" if name == "state" else ""
        return make_column(name, header, values, priority, shrink_to=None, cap=None, style=style,
                           cells=cells)
    if name == "command":
        return make_column(name, header, values, priority, cap=NAME_CAP, cells=cells)
    return make_column(name, header, values, priority, cells=cells)


def key_column(records: Sequence[RunRecord], key: str, resolver: KeyResolver, *,
               priority: float, header: str | None = None, cells: bool = True,
               raw: bool = True) -> Column:
    """The column for one key (attribute, config or summary; bare keys resolved).
    `raw=False`: a time column keeps no ISO values (a table shows only its cells)."""
    resolved = resolver.resolve(key)
    header = key if header is None else header
    if resolved.scope == "attr":
        if not cells and resolved.path[0] != "runtime":  # (--group-by summarises no other)
            return Column(key, header, [], [], priority)
        get = resolver.getter(resolved)
        return _attribute_column(resolved.path[0], records, get, priority, header, cells, raw)
    scope = resolved.scope
    mappings = resolver.mappings(scope) if scope in ("config", "summary") and resolver.records is records else None
    return make_column(key, header, values_of(resolver.readable(resolved), records, mappings), priority,
                       cells=cells)


def split_keys(text: str) -> list[str]:
    """`--columns a,config.b,summary.\\`c,d\\``: commas outside back-quotes separate keys."""
    current: list[str]
    keys, current, quoted, escaped = [], [], False, False
    for ch in text:
        if ch == "," and not quoted:
            keys.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == "`":
            quoted = not quoted
    keys.append("".join(current).strip())
    keys = [key for key in keys if key]
    if not keys:
        raise UsageError("--columns needs at least one key, e.g. --columns id,name,summary.loss")
    return keys


# -- choosing the default columns ----------------------------------------------------------
def shared_metrics(records: Sequence[RunRecord], most: int = MAX_DEFAULT_METRICS) -> list[str]:
    """Numeric summary keys (bare, as `parse_key` reads them), most widely shared first,
    then by name; private `_` keys left out."""
    counts: dict[str, int] = {}
    for path, n in numeric_leaf_counts(records).items():
        key = format_key("summary", path)[len("summary."):]
        if not key.startswith("_"):
            counts[key] = n
    return sorted(counts, key=lambda key: (-counts[key], key))[:most]


def default_keys(records: Sequence[RunRecord], *, sort: Sequence[str] = ()
                 ) -> list[tuple[str, str, float]]:
    """(key, header, priority) of the default columns: the attributes, any sort key, then
    the shared summary metrics.  The table keeps metrics over created and runtime when the
    terminal is narrow: they answer "which run was best"."""
    specs: list[tuple[str, str, float]] = [("id", "id", 100), ("name", "name", 98), ("state", "state", 96)]
    if len({record.project for record in records}) > 1:
        specs.append(("project", "project", 40))
    for name, priority in (("group", 38), ("tags", 36)):
        if any(getattr(record, name) for record in records):
            specs.append((name, name, priority))
    specs += [("created", "created", 50), ("runtime", "runtime", 45)]
    config_keys = {format_key("config", path)[len("config."):] for path in leaf_key_paths(records, "config")}
    for index, metric in enumerate(shared_metrics(records)):
        header = f"summary.{metric}" if metric in config_keys else metric
        specs.append((f"summary.{metric}", header, 80 - index / 100))
    return _with_sort_keys(specs, sort)


def _with_sort_keys(specs: list, sort: Sequence[str]) -> list:
    """Each --sort key not already a column is added, just after the state column."""
    shown = {_key_identity(key) for key, _header, _priority in specs}
    extra = []
    for index, text in enumerate(sort):
        key = text.strip().lstrip("+-")
        if key and _key_identity(key) not in shown:
            shown.add(_key_identity(key))
            extra.append((key, key, 92 - index / 100))
    return specs[:3] + extra + specs[3:]


def _key_identity(text: str) -> tuple:
    key = parse_key(text)
    return (key.scope, key.path) if key.scope in ("attr", "summary", "config") else (
        "summary", key.path)


def run_columns(records: Sequence[RunRecord], *, columns: Sequence[str] | None = None,
                sort: Sequence[str] = (), sparks: tuple[str, list[str]] | None = None,
                cells: bool = True, width: int | None = None) -> list[Column]:
    """The columns for `records`: `columns` in that order (priority falling left to right),
    else the defaults; `sparks` (key, one sparkline per run) adds a history column.
    `cells=False`: keys, kinds and values only, for what --group-by summarises (numeric
    config and summary keys, runtime); no text, and no values for other attributes.
    `width`: the columns are for a table fitted to it, so a column that fit() would hide
    whatever its cells is left `unmade` (20,000 runs at 120 wide: the runtime column's
    ~0.04 s), and time columns keep no ISO values (the created column's ~0.02 s).  A column
    is hidden whatever its cells where those of higher priority span more than the width
    with it at the least it can be."""
    resolver = KeyResolver(records)
    if columns:
        specs = [(key, key, 100 - index / 100) for index, key in enumerate(columns)]
    else:
        specs = default_keys(records, sort=sort)
    made: dict[int, Column] = {}
    minimums: list[int] = []
    # by priority, as fit() keeps them: once those made, with the next at its least, span
    # more than the width, it and the rest are hidden (fit keeps the longest run of columns
    # by priority whose minimums fit)
    for at in sorted(range(len(specs)), key=lambda at: -specs[at][2]):
        key, header, priority = specs[at]
        least = min(cell_width(printable(header)), NUMBER_MIN)  # (no column's minimum is less)
        if width is not None and sparks is None and minimums and _span([*minimums, least]) > width:
            minimums.append(least)
            resolver.resolve(key)  # (a bad or ambiguous key is an error at any width)
            made[at] = Column(key, printable(header), [], [], priority, unmade=True)
            continue
        made[at] = key_column(records, key, resolver, priority=priority, header=header, cells=cells,
                              raw=width is None)
        minimums.append(made[at].minimum)
    built = [made[at] for at in range(len(specs))]
    if sparks is not None:
        key, lines = sparks
        built.append(Column(f"{key} history", f"{key} history", lines, lines, 91,
                            style="spark", croppable=False))
    return built


# -- fitting to a width --------------------------------------------------------------------
@dataclass
class Fitted:
    """Columns kept (in display order) with their widths, cells already cropped to fit."""

    columns: list[Column]
    widths: list[int]
    hidden: list[Column] = field(default_factory=list)
    crop_mode: str = "middle"
    width: int | None = None  # the width it was fitted to (None: unlimited)

    @property
    def total_width(self) -> int:
        return sum(self.widths) + GAP * max(0, len(self.widths) - 1)

    @property
    def headers(self) -> list[str]:
        return [crop(c.header, w, "middle") for c, w in zip(self.columns, self.widths)]

    def rows(self) -> list[list[str]]:
        if not self.columns:
            return []
        return [list(row) for row in zip(*self.cut_columns())]

    def cut_columns(self) -> list[list[str]]:
        """Each column's cells cropped to its width (the column itself where all fit)."""
        return [column.cells if widest(column.cells) <= width else
                [crop(cell, width, self.crop_mode if column.croppable else "end")
                 for cell in column.cells] for column, width in zip(self.columns, self.widths)]

    def footer(self) -> str | None:
        """One line (cut to the width) saying how many columns did not fit, and which."""
        if not self.hidden:
            return None
        noun = "column" if len(self.hidden) == 1 else "columns"
        names = ", ".join(column.header for column in self.hidden)
        line = f"{len(self.hidden)} {noun} hidden (see --columns): {names}"
        return crop(line, self.width, "end") if self.width else line


def fit(columns: Sequence[Column], width: int | None, *, crop_mode: str = "middle") -> Fitted:
    """Keep the columns that fit `width` (None: no limit) and size them.

    Every column first counts at its minimum; the lowest-priority columns are dropped until
    the minimums fit; the room left then widens columns, highest priority first, up to
    their natural width."""
    kept = [column for column in columns if not column.unmade]
    if width is not None:
        by_priority = sorted(kept, key=lambda column: -column.priority)
        while len(by_priority) > 1 and _span([c.minimum for c in by_priority]) > width:
            by_priority.pop()
        chosen = {id(column) for column in by_priority}
        kept = [column for column in columns if id(column) in chosen]
        widths = _widen(kept, width)
    else:
        widths = {id(column): column.natural for column in kept}
    kept_ids = {id(column) for column in kept}
    hidden = [column for column in columns if id(column) not in kept_ids]
    return Fitted(kept, [widths[id(column)] for column in kept], hidden, crop_mode, width)


def _span(widths: Iterable[int]) -> int:
    widths = list(widths)
    return sum(widths) + GAP * max(0, len(widths) - 1)


def _widen(kept: list[Column], width: int) -> dict[int, int]:
    widths = {id(column): column.minimum for column in kept}
    room = width - _span(widths.values())
    for column in sorted(kept, key=lambda c: -c.priority):
        if room <= 0:
            break
        grow = min(room, column.natural - widths[id(column)])
        widths[id(column)] += grow
        room -= grow
    return widths


def limit_note(shown: int, total: int, limit: int | None) -> str | None:
    """What `--limit` cut, for stderr (MLflow's 1,000-run cap says nothing; this says so)."""
    if limit is None or total <= shown:
        return None
    return f"showing {shown} of {total} runs (--limit {limit}; raise it to see more)"
