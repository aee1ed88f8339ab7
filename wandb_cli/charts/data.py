"""Data preparation for line charts: pure functions over plain lists, shared by every renderer.

Invariant: the caller's data is never changed.  Every function reads its inputs and returns
new lists; what reaches a renderer is finite floats sorted by x (`Line`, `Band` inside a
`Panel`), so renderers never meet None, NaN, infinities, strings or, on a log axis, values
at or below zero.  Text meant for the user (titles, labels, notes) goes through
`chart_axes.printable` before it is drawn, so no control character or escape sequence from a run name reaches a
terminal or an SVG file.

Pipeline (`build_panel`): clean (drop non-numbers and non-finite points) -> sort by x ->
log filter (`log_y`: drop y <= 0, with a note) -> smooth (trailing mean over
`smooth_window` points, each run on its own) -> group (the members of a `GroupData` become
one `Band`: their mean with a min-max band).
Renderers then call `downsample_panel` at their own resolution, and `chart_axes.frame`.
"""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence, Union

from wandb_cli.errors import UsageError
from wandb_cli.textfmt import NUMBER_TYPES

# Larger magnitudes are treated like infinities: an axis spanning them overflows floats.
DRAWABLE_LIMIT = 1e300


@dataclass(frozen=True)
class SeriesData:
    """Raw input: one run's values of one metric (any JSON values; bad points are dropped)."""

    label: str
    xs: Sequence[Any]
    ys: Sequence[Any]


@dataclass(frozen=True)
class GroupData:
    """Raw input: several runs drawn as one mean line with a min-max band."""

    label: str
    members: Sequence[tuple[Sequence[Any], Sequence[Any]]]


@dataclass(frozen=True)
class Line:
    """A drawable series: finite floats, xs non-decreasing."""

    label: str
    xs: list[float]
    ys: list[float]


@dataclass(frozen=True)
class Band:
    """A drawable group: mean line and its min-max band at each x (lo <= mean <= hi)."""

    label: str
    xs: list[float]
    mean: list[float]
    lo: list[float]
    hi: list[float]
    runs: int = 0


Item = Union[Line, Band]


@dataclass(frozen=True)
class Panel:
    """One chart: a title (the metric key) and the items drawn on it, in drawing order."""

    title: str
    items: tuple[Item, ...] = ()
    x_label: str = "_step"
    log_y: bool = False
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not any(item.xs for item in self.items)


# ---- cleaning, smoothing, grouping ------------------------------------------------------


def history_series(rows: Iterable[Mapping[str, Any]], x_key: str, y_key: str) -> tuple[list, list]:
    """The (xs, ys) of `y_key` against `x_key` from history rows that hold both keys."""
    xs, ys = [], []
    for row in rows:
        if x_key in row and y_key in row:
            xs.append(row[x_key])
            ys.append(row[y_key])
    return xs, ys


def clean_points(xs: Sequence[Any], ys: Sequence[Any]) -> tuple[list[float], list[float]]:
    """New lists of the points whose x and y are both finite numbers, sorted by x (stable).

    Booleans, None, strings and W&B media objects are not numbers here; NaN, infinities and
    magnitudes beyond `DRAWABLE_LIMIT` are dropped rather than drawn.
    """
    out_x: list[float] = []
    out_y: list[float] = []
    limit = DRAWABLE_LIMIT
    for x, y in zip(xs, ys):
        if type(x) in NUMBER_TYPES and type(y) in NUMBER_TYPES:
            try:
                fx, fy = float(x), float(y)
            except OverflowError:  # an int too large for a float
                continue
            if -limit <= fx <= limit and -limit <= fy <= limit:  # False for NaN too
                out_x.append(fx)
                out_y.append(fy)
    if any(a > b for a, b in zip(out_x, out_x[1:])):
        order = sorted(range(len(out_x)), key=out_x.__getitem__)
        out_x = [out_x[i] for i in order]
        out_y = [out_y[i] for i in order]
    return out_x, out_y


def drop_non_positive(xs: list[float], ys: list[float]) -> tuple[list[float], list[float], int]:
    """New lists without the points whose y is <= 0 (unplottable on a log axis), and how many."""
    keep = [i for i, y in enumerate(ys) if y > 0]
    return [xs[i] for i in keep], [ys[i] for i in keep], len(ys) - len(keep)


def smooth(ys: Sequence[float], window: int) -> list[float]:
    """Trailing moving average: point i becomes the mean of points i-window+1 .. i.

    The first window-1 points average over what there is so far.  Expects clean values
    (see `clean_points`), so skipped NaN/None points never enter a window.
    """
    if window < 1:
        raise UsageError(f"smoothing window must be a positive number of points, got {window}")
    values = list(ys)
    if window == 1:
        return values
    out: list[float] = []
    total = 0.0
    for i, y in enumerate(values):
        total += y
        if i >= window:
            total -= values[i - window]
        if i % window == 0:  # re-add exactly now and then so rounding errors cannot pile up
            total = math.fsum(values[max(0, i - window + 1): i + 1])
        out.append(total / min(i + 1, window))
    return out


def group_band(label: str, members: Sequence[tuple[list[float], list[float]]], buckets: int) -> Band:
    """Mean, min and max across member runs (clean, sorted) at each x.

    When the members' xs together take at most `buckets` distinct values (runs logged at
    the same steps), each x is its own point and a run counts there if it has a value there
    (its last, if it logged twice).  Otherwise x is cut into `buckets` equal-width buckets;
    a run's value in a bucket is the mean of its points there, and the bucket's x is the
    mean x of those points.
    """
    members = [(xs, ys) for xs, ys in members if xs]
    if not members:
        return Band(label, [], [], [], [], runs=0)
    distinct = set()
    for xs, _ in members:
        distinct.update(xs)
        if len(distinct) > buckets:
            return _band_from_cells(label, _bucket_cells(members, buckets), len(members))
    cells: dict[float, list[tuple[float, float]]] = {}
    for xs, ys in members:
        for x, y in dict(zip(xs, ys)).items():
            cells.setdefault(x, []).append((x, y))
    return _band_from_cells(label, [cells[x] for x in sorted(cells)], len(members))


def _bucket_cells(members: Sequence[tuple[list[float], list[float]]], buckets: int) -> list[list[tuple[float, float]]]:
    """Per bucket, one (mean x, mean y) pair for each member with points in it."""
    lo = min(xs[0] for xs, _ in members)
    hi = max(xs[-1] for xs, _ in members)
    cells: list[list[tuple[float, float]]] = [[] for _ in range(buckets)]
    for xs, ys in members:
        bounds = bucket_bounds(xs, buckets, lo, hi)
        for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
            if b > a:
                cells[k].append((math.fsum(xs[a:b]) / (b - a), math.fsum(ys[a:b]) / (b - a)))
    return [cell for cell in cells if cell]


def _band_from_cells(label: str, cells: list[list[tuple[float, float]]], runs: int) -> Band:
    xs, mean, lo, hi = [], [], [], []
    for cell in cells:
        values = [y for _, y in cell]
        xs.append(math.fsum(x for x, _ in cell) / len(cell))
        # clamped: a correctly rounded sum divided by n can still land a hair outside
        mean.append(min(max(math.fsum(values) / len(values), min(values)), max(values)))
        lo.append(min(values))
        hi.append(max(values))
    return Band(label, xs, mean, lo, hi, runs=runs)


def build_panel(
    title: str,
    data: Sequence[SeriesData | GroupData],
    *,
    x_label: str = "_step",
    smooth_window: int = 1,
    log_y: bool = False,
    group_buckets: int = 1000,
) -> Panel:
    """A drawable panel from raw series and groups (see the module docstring for the steps)."""
    items: list[Item] = []
    dropped = 0
    for entry in data:
        runs = [(entry.xs, entry.ys)] if isinstance(entry, SeriesData) else list(entry.members)
        prepared = []
        for xs, ys in runs:
            cx, cy = clean_points(xs, ys)
            if log_y:
                cx, cy, lost = drop_non_positive(cx, cy)
                dropped += lost
            prepared.append((cx, smooth(cy, smooth_window)))
        if isinstance(entry, SeriesData):
            items.append(Line(entry.label, *prepared[0]))
        else:
            items.append(group_band(entry.label, prepared, group_buckets))
    notes = (f"{dropped} value{'s' * (dropped != 1)} <= 0 not drawn on the log scale",) if dropped else ()
    return Panel(title, tuple(items), x_label=x_label, log_y=log_y, notes=notes)


# ---- downsampling -----------------------------------------------------------------------


def bucket_bounds(xs: Sequence[float], buckets: int, lo: float | None = None, hi: float | None = None) -> list[int]:
    """Index bounds of `buckets` equal-width x buckets over [lo, hi] of sorted `xs`.

    Bucket k holds the points with lo + k*w <= x < lo + (k+1)*w (w = (hi-lo)/buckets); the
    last bucket also holds x == hi.  Returns buckets+1 indices: bucket k is xs[b[k]:b[k+1]].
    """
    lo = xs[0] if lo is None else lo
    hi = xs[-1] if hi is None else hi
    if hi <= lo:  # every x equal: split by count instead
        return [len(xs) * k // buckets for k in range(buckets + 1)]
    width = (hi - lo) / buckets
    inner = [bisect_left(xs, lo + k * width) for k in range(1, buckets)]
    return [bisect_left(xs, lo)] + inner + [bisect_right(xs, hi)]


def downsample_minmax(xs: Sequence[float], ys: Sequence[float], buckets: int) -> tuple[list[float], list[float]]:
    """At most 4 points per equal-width x bucket: its first, min, max and last, in x order.

    Each bucket's min and max points survive with their own x, so spikes are never
    smoothed away; the first and last keep lines joining neighbouring buckets in the right
    place (the M4 scheme).  Returns copies; short series come back whole.
    """
    buckets = max(buckets, 1)
    if len(xs) <= 4 * buckets:
        return list(xs), list(ys)
    bounds = bucket_bounds(xs, buckets)
    keep: list[int] = []
    for a, b in zip(bounds, bounds[1:]):
        if b <= a:
            continue
        chunk = ys[a:b]
        low = a + chunk.index(min(chunk))
        high = a + chunk.index(max(chunk))
        keep.extend(sorted({a, low, high, b - 1}))
    return [xs[i] for i in keep], [ys[i] for i in keep]


def downsample_panel(panel: Panel, buckets: int) -> Panel:
    """A copy with each line cut to at most 4 points per x bucket (bands stay whole:
    grouping already bounds their length)."""
    items = tuple(
        Line(item.label, *downsample_minmax(item.xs, item.ys, buckets)) if isinstance(item, Line) else item
        for item in panel.items
    )
    return Panel(panel.title, items, panel.x_label, panel.log_y, panel.notes)
