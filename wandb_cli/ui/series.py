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

DEFAULT_MAX_POINTS = 2000
MAX_MAX_POINTS = 100_000
_CHUNK = 8 << 20


@dataclass
class _Columns:
    """What one JSONL file held, up to `offset` bytes (always the end of a line)."""

    ident: tuple[int, int]  # (device, inode): a replaced file starts over
    offset: int = 0
    rows: int = 0
    index: dict[str, array] = field(default_factory=dict)  # key -> row numbers
    values: dict[str, array] = field(default_factory=dict)  # key -> values, same order
    aligned: dict[tuple[str, str, int], tuple[list[float], list[float]]] = field(default_factory=dict)

    def add(self, row: dict) -> None:
        number = self.rows
        self.rows += 1
        for key, value in row.items():
            kind = type(value)
            if (kind is float and math.isfinite(value)) or kind is int:
                idx = self.index.get(key)
                if idx is None:
                    idx = self.index[key] = array("q")
                    self.values[key] = array("d")
                idx.append(number)
                self.values[key].append(value)


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


def _aligned(cols: _Columns, key: str, x: str) -> tuple[list[float], list[float]]:
    """(xs, ys) of `key` against `x` over the rows holding both, sorted by x."""
    cache_key = (key, x, cols.rows)
    found = cols.aligned.get(cache_key)
    if found is not None:
        return found
    idx, ys = cols.index[key], cols.values[key]
    xi, xv = cols.index.get(x), cols.values.get(x)
    if xi is None or xv is None:
        pair: tuple[list[float], list[float]] = ([], [])
    elif len(xi) == cols.rows:  # x in every row: index straight in
        pair = ([xv[i] for i in idx], ys.tolist())
    else:
        where = dict(zip(xi, xv))
        kept = [(where[i], y) for i, y in zip(idx, ys) if i in where]
        pair = ([p[0] for p in kept], [p[1] for p in kept])
    if any(b < a for a, b in zip(pair[0], pair[0][1:])):
        order = sorted(range(len(pair[0])), key=pair[0].__getitem__)
        pair = ([pair[0][i] for i in order], [pair[1][i] for i in order])
    cols.aligned = {k: v for k, v in cols.aligned.items() if k[2] == cols.rows}
    cols.aligned[cache_key] = pair
    return pair


def aligned_series(cache: SeriesCache, path: Path, key: str, x: str) -> tuple[list[float], list[float]]:
    """One key's whole (xs, ys) against `x`, sorted by x (empty when either is missing)."""
    cols = cache.columns(path)
    if key not in cols.index or key == x:
        return [], []
    return _aligned(cols, key, x)


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
              smooth_window: int = 1, private: bool = False) -> dict[str, Any]:
    """The series of `keys` (None: every numeric key but `_` ones) against `x`, each cut to
    at most `max_points` points (min and max per bucket kept); `after`: only points whose x
    is greater (a live chart's cursor)."""
    cols = cache.columns(path)
    available = [k for k in cols.index if private or not k.startswith("_")]
    wanted = available if keys is None else [k for k in keys if k in cols.index]
    out: dict[str, Any] = {}
    for key in wanted:
        if key == x:
            continue
        xs, ys = _aligned(cols, key, x)
        if after is not None:
            from bisect import bisect_right

            start = bisect_right(xs, after)
            xs, ys = xs[start:], ys[start:]
        if smooth_window > 1:
            ys = smooth(ys, smooth_window)
        count = len(xs)
        xs, ys = downsample_minmax(xs, ys, max(1, max_points // 4))
        out[key] = {"x": xs, "y": ys, "count": count, "sampled": len(xs) < count}
    x_values = cols.values.get(x)
    return {
        "x": x, "rows": cols.rows, "keys": available, "series": out,
        "x_keys": [k for k, idx in cols.index.items() if len(idx) == cols.rows],
        "last_x": x_values[-1] if x_values else None,
    }
