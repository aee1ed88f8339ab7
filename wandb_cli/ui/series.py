"""History and system series for the web UI: read once, extended as the file grows, cut to
at most `max_points` per series on the server.

Invariant: a JSONL file is parsed only past the bytes already read (history and events are
only appended), and only whole lines: a torn last line is left for the next call.  Each key
keeps the row numbers it appears in and its finite numeric values (bools, strings, NaN and
infinities are not points), in compact arrays, so a 1,000,000-step run costs ~16 bytes per
point.  Downsampling is the terminal charts' rule (`charts.data.downsample_minmax`: each
bucket's first, min, max and last point), so a spike survives whatever `max_points` is.

`series_of` is the one entry point the API uses; a per-run digest can replace it without
touching the routes.
"""
from __future__ import annotations

import math
import os
import threading
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from wandb_cli.charts.data import downsample_minmax, smooth
from wandb_cli.errors import UsageError
from wandb_cli.store import jsonio
from wandb_cli.store.layout import HISTORY

DEFAULT_MAX_POINTS = 2000
MAX_MAX_POINTS = 100_000
_CHUNK = 8 << 20


@dataclass
class _Columns:
    """What one JSONL file held, up to `offset` bytes (always the end of a line).

    A key present in every row so far is *dense*: its values alone (row i is value i); the
    first row without it makes it sparse, with the row numbers it holds kept beside.
    `ordered` says a key's values never went down (x keys: no sort needed)."""

    ident: tuple[int, int]  # (device, inode): a replaced file starts over
    offset: int = 0
    rows: int = 0
    values: dict[str, array] = field(default_factory=dict)  # key -> its values
    index: dict[str, array | None] = field(default_factory=dict)  # key -> row numbers, None: dense
    ordered: dict[str, bool] = field(default_factory=dict)
    aligned: dict[tuple[str, str, int], tuple[Sequence[float], Sequence[float]]] = field(default_factory=dict)

    def add(self, row: dict) -> None:
        number = self.rows
        self.rows += 1
        seen = 0
        for key, value in row.items():
            kind = type(value)
            if not ((kind is float and math.isfinite(value)) or kind is int):
                continue
            seen += 1
            values = self.values.get(key)
            if values is None:
                values = self.values[key] = array("d")
                self.index[key] = None if number == 0 else array("q")
                self.ordered[key] = True
            elif self.ordered[key] and value < values[-1]:
                self.ordered[key] = False
            idx = self.index[key]
            if idx is None and len(values) != number:
                idx = self.index[key] = array("q", range(len(values)))
            if idx is not None:
                idx.append(number)
            values.append(value)
        if seen < len(self.values):  # a dense key missing from this row turns sparse
            for key, idx in self.index.items():
                if idx is None and len(self.values[key]) <= number:
                    self.index[key] = array("q", range(len(self.values[key])))

    def dense(self, key: str) -> bool:
        return self.index.get(key, ()) is None and len(self.values[key]) == self.rows


class SeriesCache:
    """Parsed columns per JSONL file, shared by all requests (one lock per server)."""

    def __init__(self, most_files: int = 64):
        self._files: dict[str, _Columns] = {}
        self._lock = threading.Lock()
        self._most = most_files

    def columns(self, path: Path) -> _Columns:
        with self._lock:
            return self._refresh(str(path))

    def _refresh(self, key: str) -> _Columns:
        try:
            info = os.stat(key)
        except FileNotFoundError:
            return _Columns((0, 0))
        ident = (info.st_dev, info.st_ino)
        cols = self._files.get(key)
        if cols is None or cols.ident != ident or info.st_size < cols.offset:
            cols = _Columns(ident)
            if len(self._files) >= self._most:
                self._files.pop(next(iter(self._files)))
        self._files[key] = cols
        if info.st_size > cols.offset:
            _read_more(key, cols)
        return cols


def _read_more(path: str, cols: _Columns) -> None:
    with open(path, "rb") as fh:
        fh.seek(cols.offset)
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                return
            end = chunk.rfind(b"\n")
            if end < 0:
                if len(chunk) < _CHUNK:
                    return  # a torn last line: read it when it is whole
                continue
            for line in chunk[:end].split(b"\n"):
                if line.strip():
                    try:
                        row = jsonio.loads(line)
                    except ValueError:
                        continue
                    if isinstance(row, dict):
                        cols.add(row)
            cols.offset += end + 1
            fh.seek(cols.offset)
            cols.aligned.clear()


def _aligned(cols: _Columns, key: str, x: str) -> tuple[Sequence[float], Sequence[float]]:
    """(xs, ys) of `key` against `x` over the rows holding both, sorted by x.  Two dense
    keys are their own arrays (no copy: 1,000,000 steps cost nothing more)."""
    if cols.dense(key) and cols.dense(x):
        xs_d, ys_d = cols.values[x], cols.values[key]
        if cols.ordered[x]:
            return xs_d, ys_d
        order = sorted(range(len(xs_d)), key=xs_d.__getitem__)
        return array("d", (xs_d[i] for i in order)), array("d", (ys_d[i] for i in order))
    cache_key = (key, x, cols.rows)
    found = cols.aligned.get(cache_key)
    if found is not None:
        return found
    pair = _join(cols, key, x)
    cols.aligned = {k: v for k, v in cols.aligned.items() if k[2] == cols.rows}
    cols.aligned[cache_key] = pair
    return pair


def _join(cols: _Columns, key: str, x: str) -> tuple[array, array]:
    ys, xv = cols.values[key], cols.values.get(x)
    if xv is None:
        return array("d"), array("d")
    held = cols.index[key]
    idx: Sequence[int] = range(len(ys)) if held is None else held
    x_idx = cols.index[x]
    if x_idx is None:  # x in every row: index straight in
        xs = array("d", (xv[i] for i in idx))
        kept_ys = array("d", ys)
    else:
        where = dict(zip(x_idx, xv))
        pairs = [(where[i], y) for i, y in zip(idx, ys) if i in where]
        xs, kept_ys = array("d", (p[0] for p in pairs)), array("d", (p[1] for p in pairs))
    if not cols.ordered[x] and any(b < a for a, b in zip(xs, xs[1:])):
        order = sorted(range(len(xs)), key=xs.__getitem__)
        xs, kept_ys = array("d", (xs[i] for i in order)), array("d", (kept_ys[i] for i in order))
    return xs, kept_ys


def aligned_series(cache: SeriesCache, path: Path, key: str, x: str) -> tuple[list[float], list[float]]:
    """One key's whole (xs, ys) against `x`, sorted by x (empty when either is missing)."""
    cols = cache.columns(path)
    if key not in cols.values or key == x:
        return [], []
    xs, ys = _aligned(cols, key, x)
    return list(xs), list(ys)


def big_digest(path: Path) -> Any:
    """A big history's digest (loaded once for a request's several uses), else None."""
    if not _is_big_history(path):
        return None
    from wandb_cli.store import digest as digests

    return digests.load_digest(path.parent.parent)


def member_keys(cache: SeriesCache, path: Path, digest: Any = None) -> list[str]:
    """The numeric keys a history holds (a big one's, `digest`, from its statistics: keys
    with a finite value, as the per-point arrays hold them)."""
    if digest is not None:
        return [k for k in digest.columns if k in digest.stats and digest.stats[k][1] is not None]
    return list(cache.columns(path).values)


def member_series(cache: SeriesCache, path: Path, key: str, x: str, *, smooth_window: int,
                  max_points: int, digest: Any = None) -> tuple[list, list]:
    """One key's (xs, ys) against `x` for a grouped chart, sorted by x, smoothed (a
    trailing mean of `smooth_window` points): a small history's every point; a big one's
    (`digest`: big_digest's) its buckets' first/min/max/last points, or when smoothed its
    buckets' trailing means, never a read of every point."""
    from wandb_cli.charts.data import smooth

    if digest is None:
        xs, ys = aligned_series(cache, path, key, x)
        return xs, smooth(ys, smooth_window) if smooth_window > 1 else ys
    if key == x or key not in digest.stats:
        return [], []
    found = _digest_line(digest, key, x, smooth_window, max_points)
    pairs = sorted(zip(found[0], found[1]))
    return [p[0] for p in pairs], [p[1] for p in pairs]


def check_max_points(value: Any) -> int:
    try:
        points = int(value) if value not in (None, "") else DEFAULT_MAX_POINTS
    except (TypeError, ValueError):
        raise UsageError(f"bad max_points {value!r}: give a whole number") from None
    if not 10 <= points <= MAX_MAX_POINTS:
        raise UsageError(f"bad max_points {points}: give 10 to {MAX_MAX_POINTS}")
    return points


def series_of(cache: SeriesCache, path: Path, *, keys: Sequence[str] | None, x: str,
              max_points: int = DEFAULT_MAX_POINTS, after: float | None = None,
              smooth_window: int = 1, private: bool = False,
              step_metrics: dict[str, str] | None = None, hidden: Sequence[str] = ()) -> dict[str, Any]:
    """The series of `keys` (None: every numeric key but `_` ones and `hidden` ones) against
    `x`, each cut to at most `max_points` points (min and max per bucket kept); `after`:
    only points whose x is greater (a live chart's cursor).

    `step_metrics` (key -> its define_metric step metric) draws those keys against their
    own axis instead of `x`, where the history holds it; such a series comes whole (`full`:
    `after` is a cursor on `x`, not on their axis).  Each series names its axis (`x_key`)."""
    if _is_big_history(path):
        return _digest_series(path, keys=keys, x=x, max_points=max_points, after=after,
                              private=private, step_metrics=step_metrics, hidden=hidden,
                              smooth_window=smooth_window)
    cols = cache.columns(path)
    available = [k for k in cols.values if (private or not k.startswith("_")) and k not in hidden]
    wanted = available if keys is None else [k for k in keys if k in cols.values]
    out: dict[str, Any] = {}
    for key in wanted:
        axis = _axis_of(key, x, step_metrics, cols.values)
        if key == axis:
            continue
        xs, ys = _aligned(cols, key, axis)
        if after is not None and axis == x:
            from bisect import bisect_right

            start = bisect_right(xs, after)
            xs, ys = xs[start:], ys[start:]
        if smooth_window > 1:
            ys = smooth(ys, smooth_window)
        count = len(xs)
        xs, ys = downsample_minmax(xs, ys, max(1, max_points // 4))
        out[key] = _series_entry(xs, ys, count, axis, x)
    x_values = cols.values.get(x)
    return {
        "x": x, "rows": cols.rows, "keys": available, "series": out,
        "x_keys": [k for k in cols.values if cols.dense(k)],
        "last_x": x_values[-1] if x_values else None,
    }


# A history this big is charted from its digest (store/digest.py: bounded memory, read on
# from where it stopped) instead of per-key arrays of every point (8 bytes a point: a
# 5,000,000-step run of 8 keys took 376 MB and ~60 s on its first request).
BIG_HISTORY_BYTES = 64 << 20


def _is_big_history(path: Path) -> bool:
    try:
        return path.name == HISTORY and os.path.getsize(path) >= BIG_HISTORY_BYTES
    except OSError:
        return False


def _digest_series(path: Path, *, keys: Sequence[str] | None, x: str, max_points: int,
                   after: float | None, private: bool, step_metrics: dict[str, str] | None,
                   hidden: Sequence[str], smooth_window: int = 1) -> dict[str, Any]:
    """series_of's answer for a big history, from its digest: the same fields, each series
    its buckets' first, min, max and last points (at most `max_points`); smoothed, a
    trailing mean at each bucket's end (digest.smoothed), never a read of every point."""
    from wandb_cli.store import digest as digests

    digest = digests.load_digest(path.parent.parent)
    numeric = digest.stats
    available = [k for k in digest.columns
                 if k in numeric and (private or not k.startswith("_")) and k not in hidden]
    wanted = available if keys is None else [k for k in keys if k in numeric]
    out: dict[str, Any] = {}
    for key in wanted:
        axis = _axis_of(key, x, step_metrics, numeric)
        if key == axis:
            continue
        xs, ys, count = _digest_line(digest, key, axis, smooth_window, max_points)
        if after is not None and axis == x:  # (row order: x need not be sorted)
            kept = [i for i, value in enumerate(xs) if value > after]
            xs, ys = [xs[i] for i in kept], [ys[i] for i in kept]
        out[key] = _series_entry(xs, ys, count, axis, x)
    return {
        "x": x, "rows": digest.rows, "keys": available, "series": out,
        "x_keys": [k for k in digest.columns if k in numeric and numeric[k][0] == digest.rows],
        "last_x": numeric[x][3] if x in numeric else None, "digest": True,
    }


def _digest_line(digest: Any, key: str, x: str, smooth_window: int, max_points: int) -> tuple[list, list, int]:
    """(xs, ys, count) of one key of a big history, in row order: its buckets' first, min,
    max and last points (a quarter of `max_points` buckets), or when smoothed the trailing
    means at its buckets' ends."""
    from wandb_cli.store import digest as digests

    if smooth_window > 1:
        return digests.smoothed(digest, key, x, smooth_window, max_points)
    return digests.points(digest, key, x, max(1, max_points // 4))


def _axis_of(key: str, x: str, step_metrics: dict[str, str] | None, known) -> str:
    """The x key `key` is drawn against: its define_metric step metric where the history
    holds it, else `x`."""
    own = (step_metrics or {}).get(key)
    return own if own and own != key and own in known else x


def _series_entry(xs: list, ys: list, count: int, axis: str, x: str) -> dict[str, Any]:
    """One series of series_of's answer; one drawn on its own axis comes whole (`full`)."""
    return {"x": xs, "y": ys, "count": count, "sampled": len(xs) < count, "x_key": axis,
            **({"full": True} if axis != x else {})}
