"""A downsampled digest of a run's history, so big histories are shown and charted in
bounded memory and time.

The digest lives beside the run's files (`<run>/.history-digest.json`, never inside
`files/`, whose changes re-index the run).  It summarises the history in at most
MAX_BUCKETS buckets of consecutive rows (a power-of-two number of rows each): per numeric
top-level key, the count, sum, and the rows holding the bucket's first, smallest, largest
and last value, so spikes survive downsampling (min and max per bucket), and exact
per-key statistics over the whole history (count, min, max, last).

Invariant: a digest is trusted only for the exact bytes it covers.  It records the
history's device, inode, size and modification time, and the bytes just before its end.
It is used as it is only when all of those still hold (and the time is at least 2 s older
than the digest, as for the index); when the history only grew (same file, the same bytes
before the digest's end: a live run appending), only the new whole lines are read and
added; when anything else changed (rewritten, truncated, replaced), it is rebuilt.  A
digest that cannot be read is rebuilt; one that cannot be written (a read-only store) is
only kept in memory.  Reading streams the history line by
line: memory is bounded by the digest, never the history's length.
"""
from __future__ import annotations

import math
import operator
import os
import subprocess
import sys
import time
from functools import reduce
from itertools import chain, islice, repeat
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson

from wandb_cli.nogc import no_cycle_collection
from wandb_cli.store import jsonio
from wandb_cli.store.layout import HISTORY, RunPaths
from wandb_cli.textfmt import finite_sum

DIGEST = ".history-digest.json"
FORMAT = 1
MAX_BUCKETS = 1024
SMALL_BYTES = 4 << 20  # below this, callers read the history whole (exact and fast)
# A wrapped run's digest is kept up to date as it goes once its history is this big, each
# time it has grown by LIVE_STEP (about 230,000 rows of 8 numbers; ~1 s of reading here).
LIVE_BYTES = 64 << 20
LIVE_STEP = 32 << 20
FINGERPRINT = 64
RACY_NS = 2_000_000_000
BLOCK_BYTES = 1 << 20

# Numbers summarised: ints and floats; an integer beyond _INT_LIMIT is left out, as a string
# is (math.isfinite() and float() raise OverflowError from 2**1024, and a bucket's sum of
# up to 2**63 such integers must still convert to a float).
_NUMBERS = frozenset({int, float})
_INT_LIMIT = 2**960
_DICT = frozenset({dict})

# per key in a bucket: [n, sum, first_row, min_row, max_row, last_row]; n and sum count
# finite values only, min/max rows are those of finite values (or of any, if none is).
N, SUM, FIRST, LOW, HIGH, LAST = range(6)


class Digest:
    """The summary of the first `covered` bytes (`rows` rows) of a history."""

    def __init__(self) -> None:
        self.width = 1  # rows per bucket
        self.rows = 0
        self.covered = 0
        self.identity: list[int] = [0, 0]
        self.mtime_ns = 0  # of the history when last read; 0: not to be trusted as is
        self.fingerprint = ""
        self.columns: dict[str, None] = {}  # every top-level key, first seen first
        self.buckets: list[dict[str, list]] = []
        self.kept: dict[int, dict] = {}  # row number -> its numeric top-level fields
        self.stats: dict[str, list] = {}  # key -> [count, min, max, last]

    # --- building ------------------------------------------------------------------------
    def add_rows(self, rows: Iterable[dict]) -> None:
        rows = rows if isinstance(rows, list) else list(rows)
        columns = _plain_columns(rows)
        if columns is None:
            for row in rows:
                self._add(row)
        else:
            self._add_plain(rows, *columns)

    def _slot(self, index: int) -> int:
        """The bucket of row `index`, opened (and the one before pruned) when it is new."""
        slot = index // self.width
        if slot == len(self.buckets):
            if self.buckets:
                self._prune(self.buckets[-1], index - self.width, index)
            self.buckets.append({})
        return slot

    def _add(self, row: dict) -> None:
        index = self.rows
        self.rows += 1
        bucket = self.buckets[self._slot(index)]
        numeric = {}
        for key, value in row.items():
            if key not in self.columns:
                self.columns[key] = None
            if type(value) is float or (type(value) is int and -_INT_LIMIT < value < _INT_LIMIT):
                numeric[key] = value
        if not numeric:
            return
        self.kept[index] = numeric
        for key, value in numeric.items():
            self._add_value(bucket, key, value, index)
        if len(self.buckets) > MAX_BUCKETS:
            self._halve()

    def _add_value(self, bucket: dict, key: str, value: float, index: int) -> None:
        finite = math.isfinite(value)
        bound = value if finite else None
        self._count(key, 1, bound, bound, value)
        cell = bucket.get(key)
        if cell is None:
            bucket[key] = [1 if finite else 0, value if finite else 0.0, index, index, index, index]
            return
        cell[LAST] = index
        if not finite:
            return
        cell[N] += 1
        cell[SUM] += value
        kept = self.kept
        low = kept[cell[LOW]][key]
        if value < low or not math.isfinite(low):
            cell[LOW] = index
        high = kept[cell[HIGH]][key]
        if value > high or not math.isfinite(high):
            cell[HIGH] = index

    def _add_plain(self, rows: list[dict], keys: list[str], columns: list[tuple]) -> None:
        """Rows that all hold the same keys, every value a finite int or float, added a
        bucket's share at a time, a column at a time (C-level min, max, index, sum): what
        `_add` row by row makes, the same digest, at a fraction of the cost."""
        self.columns.update(dict.fromkeys(keys))
        by_key = dict(zip(keys, columns))
        start, count, done = self.rows, len(rows), 0
        while done < count:
            index = start + done
            slot = self._slot(index)
            stop = min(count, (slot + 1) * self.width - start)
            if len(self.buckets) > MAX_BUCKETS:  # (a row without numbers opened it: _add
                stop = done + 1  # halves after the next row holding one) halve after one row
            bucket = self.buckets[slot]
            self.kept.update(zip(range(index, start + stop), rows[done:stop]))
            for key in rows[done]:  # (in the order _add meets them: new cells in that order)
                self._add_column(bucket, key, by_key[key][done:stop], index)
            self.rows = start + stop
            if len(self.buckets) > MAX_BUCKETS:
                self._halve()
            done = stop

    def _add_column(self, bucket: dict, key: str, values: tuple, first: int) -> None:
        """`_add_value` for consecutive finite values of one key, rows `first`...: the
        first smallest and first largest win ties, as there; sums add in row order."""
        low, high = min(values), max(values)
        self._count(key, len(values), low, high, values[-1])
        cell = bucket.get(key)
        if cell is None:
            bucket[key] = [len(values), reduce(operator.add, islice(values, 1, None), values[0]), first,
                           first + values.index(low), first + values.index(high), first + len(values) - 1]
            return
        cell[LAST] = first + len(values) - 1
        cell[N] += len(values)
        cell[SUM] = reduce(operator.add, values, cell[SUM])
        kept = self.kept
        was = kept[cell[LOW]][key]
        if low < was or not math.isfinite(was):
            cell[LOW] = first + values.index(low)
        was = kept[cell[HIGH]][key]
        if high > was or not math.isfinite(was):
            cell[HIGH] = first + values.index(high)

    def _count(self, key: str, count: int, low: float | None, high: float | None, last: float) -> None:
        """`key`'s statistics after `count` more values: `low` and `high` the smallest and
        largest finite one (None: none finite; an earlier equal one stays), `last` the last."""
        stats = self.stats.get(key)
        if stats is None:
            self.stats[key] = [count, low, high, last]
            return
        stats[0] += count
        stats[3] = last
        if low is not None and (stats[1] is None or low < stats[1]):
            stats[1] = low
        if high is not None and (stats[2] is None or high > stats[2]):
            stats[2] = high

    def _prune(self, bucket: dict, first_row: int, end: int) -> None:
        """Forget the rows of a closed bucket (those before `end`) that none of its keys
        names."""
        named = {index for cell in bucket.values() for index in cell[2:]}
        stale = set(range(max(first_row, 0), end)).difference(named)
        list(map(self.kept.pop, stale, repeat(None)))

    def _halve(self) -> None:
        """Twice as many rows per bucket: neighbours merged, rows no longer named dropped."""
        merged = []
        for i in range(0, len(self.buckets), 2):
            pair = self.buckets[i:i + 2]
            merged.append(pair[0] if len(pair) == 1 else self._merge(*pair))
        self.buckets = merged
        self.width *= 2
        named = {index for bucket in merged for cell in bucket.values() for index in cell[2:]}
        self.kept = {index: row for index, row in self.kept.items() if index in named}

    def _merge(self, left: dict, right: dict) -> dict:
        out = {key: list(cell) for key, cell in left.items()}
        for key, cell in right.items():
            mine = out.get(key)
            if mine is None:
                out[key] = list(cell)
                continue
            mine[N] += cell[N]
            mine[SUM] += cell[SUM]
            mine[LAST] = cell[LAST]
            mine[LOW] = min(mine[LOW], cell[LOW], key=lambda i: _order(self.kept[i][key]))
            mine[HIGH] = max(mine[HIGH], cell[HIGH], key=lambda i: _order(self.kept[i][key], high=True))
        return out

    # --- reading back --------------------------------------------------------------------
    def points(self, key: str) -> list[int]:
        """The row numbers kept for `key`, in order: per bucket its first, min, max, last."""
        out: list[int] = []
        for bucket in self.buckets:
            cell = bucket.get(key)
            if cell is not None:
                out.extend(sorted({cell[FIRST], cell[LOW], cell[HIGH], cell[LAST]}))
        return out

    def sample_rows(self) -> list[dict]:
        """The kept rows, in history order: a downsampled history whose every key keeps
        its first, smallest, largest and last value of each bucket."""
        return [self.kept[index] for index in sorted(self.kept)]

    def bucket_means(self, key: str) -> list[float]:
        """The mean of each bucket's finite values of `key` (for sparklines)."""
        return [cell[SUM] / cell[N] for bucket in self.buckets
                if (cell := bucket.get(key)) is not None and cell[N]]

    def history_stats(self) -> dict[str, dict[str, Any]]:
        """Per numeric key: count, min and max (of finite values), last."""
        return {key: {"min": s[1], "max": s[2], "last": s[3], "count": s[0]}
                for key, s in self.stats.items()}

    # --- storing -------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        doc = {"format": FORMAT, "width": self.width, "rows": self.rows, "covered": self.covered,
               "identity": self.identity, "fingerprint": self.fingerprint,
               "mtime_ns": self.mtime_ns,
               "columns": list(self.columns), "stats": self.stats, "buckets": self.buckets,
               "kept": [[index, row] for index, row in self.kept.items()]}
        return jsonio.dumps(doc)

    @classmethod
    def from_doc(cls, doc: dict) -> Digest:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError("not a digest of this format")
        digest = cls()
        digest.width, digest.rows, digest.covered = int(doc["width"]), int(doc["rows"]), int(doc["covered"])
        digest.identity, digest.fingerprint = list(doc["identity"]), str(doc["fingerprint"])
        digest.mtime_ns = int(doc["mtime_ns"])
        digest.columns = dict.fromkeys(doc["columns"])
        digest.stats = doc["stats"]
        digest.buckets = doc["buckets"]
        digest.kept = {int(index): row for index, row in doc["kept"]}
        return digest


def _plain_columns(rows: list[dict]) -> tuple[list[str], list[tuple]] | None:
    """(keys, each key's values in row order) where every row holds the same keys and every
    value is a finite int or float (a history's usual block); else None."""
    if not rows or not rows[0]:
        return None
    keys = list(rows[0])
    if set(map(len, rows)) != {len(keys)}:
        return None
    values = operator.itemgetter(*keys)  # (of one key: the value, not a 1-tuple)
    try:  # (as many keys as the first row, all of them: the same keys)
        columns = [tuple(map(values, rows))] if len(keys) == 1 else list(zip(*map(values, rows)))
    except KeyError:
        return None
    if not set(map(type, chain.from_iterable(columns))) <= _NUMBERS:
        return None
    if not all(finite_sum(column) is not None and -_INT_LIMIT < min(column) and max(column) < _INT_LIMIT
               for column in columns):  # no NaN, no infinity, no integer beyond a float
        return None
    return keys, columns



def _order(value: float, *, high: bool = False) -> float:
    """Finite values compare as they are; NaN and infinities lose to every finite value."""
    if math.isfinite(value):
        return value
    return -math.inf if high else math.inf


def history_size(run_dir: str | Path) -> int:
    try:
        return os.path.getsize(RunPaths(Path(run_dir)).file(HISTORY))
    except OSError:
        return 0


def load_digest(run_dir: str | Path) -> Digest:
    """The digest of the run's history as it is now: the stored one if it still describes
    the file, brought up to date if the file only grew, else rebuilt (and stored)."""
    run_dir = Path(run_dir)
    path = RunPaths(run_dir).file(HISTORY)
    digest_path = run_dir / DIGEST
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return Digest()
    with fh:
        info = os.fstat(fh.fileno())
        identity = [info.st_dev, info.st_ino]
        digest = _stored(digest_path)
        if digest is not None and digest.covered == info.st_size and digest.mtime_ns == info.st_mtime_ns:
            if digest.identity == identity:
                return digest
        if digest is None or not _may_extend(digest, fh, identity, info.st_size):
            digest = Digest()
            digest.identity = identity
        _read_from(digest, fh, info.st_size)
        # a change within the file system's timestamp granularity may keep the mtime: a
        # digest made that soon after a change is never taken as is, only extended
        racy = time.time_ns() - info.st_mtime_ns < RACY_NS
        digest.mtime_ns = 0 if racy or digest.covered != info.st_size else info.st_mtime_ns
    _store(digest_path, digest)
    return digest


def refresh_in_background(run_dir: str | Path) -> subprocess.Popen | None:
    """Bring the run's digest up to date in a separate, low-priority process (`python -m
    wandb_cli.store.digest RUN_DIR`): it takes neither the caller's time (no GIL shared with
    an output pump) nor its exit (it finishes on its own, and its output goes nowhere).
    None where it cannot be started: the digest is a cache, readers extend it themselves."""
    try:  # (no preexec_fn: the caller has threads)
        return subprocess.Popen([sys.executable, "-m", "wandb_cli.store.digest", str(run_dir)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    except OSError:
        return None


def _stored(path: Path) -> Digest | None:
    try:
        return Digest.from_doc(jsonio.loads(path.read_bytes()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _may_extend(digest: Digest, fh, identity: list[int], size: int) -> bool:
    """Whether the history only grew since the digest was made (histories are only ever
    appended: same file, longer, the same bytes before the digest's end)."""
    if digest.identity != identity or digest.covered >= size:
        return False
    return _fingerprint(fh, digest.covered) == digest.fingerprint


def _fingerprint(fh, end: int) -> str:
    start = max(0, end - FINGERPRINT)
    fh.seek(start)
    return fh.read(end - start).hex()


def _read_from(digest: Digest, fh, size: int) -> None:
    """Add the whole lines between `digest.covered` and `size`; a torn last line waits.
    The cyclic collector is paused (rows and buckets hold no cycles): outside the CLI, which
    pauses it anyway (the UI, the wrapper's upkeep process), it cost ~15% here."""
    fh.seek(digest.covered)
    with no_cycle_collection():
        for block, end in iter_blocks(fh, digest.covered, size):
            digest.add_rows(parse_block(block)[0])
            digest.covered = end
    digest.fingerprint = _fingerprint(fh, digest.covered)


def iter_blocks(fh, start: int, size: int) -> Iterator[tuple[bytes, int]]:
    """Blocks of whole lines (each about BLOCK_BYTES), with the offset each one ends at.
    A block's unfinished last line is read again with the next block (a seek back, so a
    block is copied once, not joined to the last one's tail); only a line longer than a
    block is carried over."""
    carry = b""
    pos = start  # the file offset after what was read
    while pos < size:
        chunk = fh.read(min(BLOCK_BYTES, size - pos))
        if not chunk:
            return
        pos += len(chunk)
        cut = chunk.rfind(b"\n") + 1
        if not cut:
            carry += chunk
            continue
        if cut < len(chunk):
            fh.seek(cut - len(chunk), os.SEEK_CUR)
            pos -= len(chunk) - cut
            chunk = chunk[:cut]
        yield (carry + chunk if carry else chunk), pos
        carry = b""


def parse_block(block: bytes) -> tuple[list[dict], int]:
    """The rows of a block of whole JSONL lines, and how many lines were torn or corrupt
    (skipped, as iter_jsonl does): one parse for the block when every line is sound."""
    lines = list(filter(None, block.split(b"\n")))  # (a blank line fails the one parse)
    if not jsonio.has_long_digits(block):
        try:
            rows = orjson.loads(b"[" + b",".join(lines) + b"]")
            if len(rows) == len(lines) and set(map(type, rows)) <= _DICT:  # (not `{..},{..}`)
                return rows, 0
        except orjson.JSONDecodeError:
            pass
    out, bad = [], 0
    for line in filter(bytes.strip, lines):
        try:
            row = jsonio.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(row, dict):
            out.append(row)
    return out, bad


def _store(path: Path, digest: Digest) -> None:
    try:
        jsonio.write_bytes_atomic(path, digest.to_bytes())
    except Exception:  # a read-only store: the digest serves this call only
        pass


def series(run_dir: str | Path, keys: Iterable[str], x: str = "_step",
           max_points: int = 1000) -> dict[str, dict[str, list]]:
    """Downsampled min/max series of `keys` against `x` (`_step`, `_runtime`,
    `_timestamp` or a metric logged on the same rows), for charts and the web UI.

    For each key: {"x": [...], "y": [...], "min": [...], "max": [...], "count": N,
    "downsampled": bool}: one entry per bucket of consecutive rows (at most `max_points`),
    `x` and `y` the bucket's last point holding the key, `min`/`max` its smallest and
    largest finite values, so spikes are never averaged away.  Small histories come back
    point for point (min == max == y).  Keys without a number are left out.
    """
    digest = load_digest(run_dir)
    out = {}
    for key in keys:
        cells = [(cell, digest.width) for bucket in digest.buckets if (cell := bucket.get(key))]
        if not cells:
            continue
        merged = _merge_cells(digest, key, [c for c, _ in cells], max_points)
        xs, ys, lows, highs = [], [], [], []
        for cell in merged:
            last = digest.kept[cell[LAST]]
            if x not in last:
                continue
            xs.append(last[x])
            ys.append(last[key])
            lows.append(digest.kept[cell[LOW]][key])
            highs.append(digest.kept[cell[HIGH]][key])
        out[key] = {"x": xs, "y": ys, "min": lows, "max": highs,
                    "count": digest.stats[key][0],
                    "downsampled": len(xs) < digest.stats[key][0]}
    return out


def points(digest: Digest, key: str, x: str, max_buckets: int) -> tuple[list, list, int]:
    """(xs, ys, count) of `key` against `x` for the web UI: of each of at most `max_buckets`
    buckets of consecutive rows, its first, lowest, highest and last point holding `key`,
    in row order (the rule of `charts.data.downsample_minmax`, so spikes survive); rows
    whose `x` is not a number are left out.  `count`: the rows holding a number for `key`.
    `digest`: load_digest's, loaded once for all the keys of a request."""
    cells = [cell for bucket in digest.buckets if (cell := bucket.get(key))]
    xs, ys = [], []
    for cell in _merge_cells(digest, key, cells, max_buckets):
        for row in sorted({cell[FIRST], cell[LOW], cell[HIGH], cell[LAST]}):
            values = digest.kept[row]
            if x in values:
                xs.append(values[x])
                ys.append(values[key])
    return xs, ys, digest.stats[key][0] if key in digest.stats else 0


def smoothed(digest: Digest, key: str, x: str, window: int, max_buckets: int) -> tuple[list, list, int]:
    """(xs, ys, count) of `key`'s trailing moving average over `window` of its points, at the
    digest's resolution (the web UI's smoothing of a big history; W&B too smooths the points
    it sampled): one point at the end of each bucket (at most `max_buckets`, neighbours
    joined), the mean of the finite values of that bucket and the ones before it, back to
    where they hold at least `window` values.  That is the exact trailing mean at the
    bucket's end when every row holds a finite `key` and the window is whole buckets; a
    window smaller than a bucket is widened to it.  Rows whose `x` is not a number are left
    out, as in `points`."""
    groups = [(cell[N], cell[SUM], _bucket_x(digest, bucket, cell, x)) for bucket in digest.buckets
              if (cell := bucket.get(key)) is not None and cell[N]]
    while len(groups) > max(1, max_buckets):
        groups = [pair[0] if len(pair) == 1 else
                  (pair[0][0] + pair[1][0], pair[0][1] + pair[1][1],
                   pair[0][2] if pair[1][2] is None else pair[1][2])
                  for pair in (groups[i:i + 2] for i in range(0, len(groups), 2))]
    xs, ys = [], []
    start = count = 0
    total = 0.0
    for end, (n, value_sum, at) in enumerate(groups):
        count += n
        total += value_sum
        first = start
        while start < end and count - groups[start][0] >= window:
            count -= groups[start][0]
            start += 1
        if start != first:  # summed again, not subtracted: no drift
            total = math.fsum(group[1] for group in groups[start:end + 1])
        if at is not None:
            xs.append(at)
            ys.append(total / count)
    return xs, ys, digest.stats[key][0] if key in digest.stats else 0


def _bucket_x(digest: Digest, bucket: dict, cell: list, x: str) -> Any:
    """Where a bucket's smoothed point is drawn: the `x` of its last row holding the key,
    else of its last row holding `x` (a sparse axis, an epoch every few rows); None if none."""
    values = digest.kept[cell[LAST]]
    if x in values:
        return values[x]
    own = bucket.get(x)
    return None if own is None else digest.kept[own[LAST]].get(x)


def _merge_cells(digest: Digest, key: str, cells: list[list], max_points: int) -> list[list]:
    max_points = max(1, max_points)
    while len(cells) > max_points:
        paired = []
        for i in range(0, len(cells), 2):
            pair = cells[i:i + 2]
            if len(pair) == 1:
                paired.append(pair[0])
                continue
            a, b = pair
            values = digest.kept
            low = min(a[LOW], b[LOW], key=lambda r: _order(values[r][key]))
            high = max(a[HIGH], b[HIGH], key=lambda r: _order(values[r][key], high=True))
            paired.append([a[N] + b[N], a[SUM] + b[SUM], a[FIRST], low, high, b[LAST]])
        cells = paired
    return cells


if __name__ == "__main__":  # refresh_in_background's process
    try:
        os.nice(10)
    except OSError:
        pass
    load_digest(sys.argv[1])
