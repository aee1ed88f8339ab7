"""Each cached run's JSON text for `runs ls --format json`, kept beside the index (`index.rows`).

`runs ls --format json` at 100,000 runs spent ~0.5 s here of its ~1.4 s building and encoding
the 28,000 runs it printed (`to_dict`, then orjson), each time, for runs that had not changed.
The text of a run whose entry is unchanged is the same every time but for its folder's path
(the store may be reached by another path), so it is written once, when its index entry is,
in two parts around that path, and a listing joins the parts of the runs it prints.

Invariant: a text is never more trusted than its entry.  The file is tied to one index as the
columns file is (a first line naming the digest of the index's trailer and its rows) and holds
one text per row of the columns file, in the same order; a listing uses it only where it
belongs to the index whose columns it read, and only for entries the columns gave (a run read
afresh has none).  A run judged when read (a running run) has an empty text: its item is made.
Written beside the other two under a temporary name and renamed after them; a file that is
missing, of another index, cut short, or whose offsets do not climb, is not used, and the
index is written again.

Layout: the first line; then 2 * rows + 1 offsets (int64, in the byte order the first line
names) into the text after them: row i is text[o[2i]:o[2i+2]], its path going in at o[2i+1].
"""
from __future__ import annotations

import errno
import io
import operator
import os
import sys
from array import array
from itertools import islice
from pathlib import Path
from typing import BinaryIO, Callable, Sequence

import orjson

# a run's JSON text, split where its path goes: (before, after)
Split = tuple[bytes, bytes]


class Texts:
    """An index's rows file, open, its offsets read: a row's text is read only when asked for,
    straight into the caller's buffer (no mapping of the file: its pages would count in the
    listing's memory)."""

    def __init__(self, fh: io.FileIO, offsets: array, start: int):
        self._fh = fh  # (open as long as a record refers to it; never written in place)
        self._start = start
        self.offsets = offsets

    def lengths(self, row: int) -> tuple[int, int] | None:
        """The lengths of row `row`'s text before and after its path; None where it has none."""
        offsets, at = self.offsets, 2 * row
        begin, middle, end = offsets[at], offsets[at + 1], offsets[at + 2]
        return None if begin == end else (middle - begin, end - middle)

    def read_into(self, row: int, before: memoryview, after: memoryview) -> bool:
        """Row `row`'s two parts into `before` and `after` (of the lengths() given); False
        where the file gave less."""
        at = self._start + self.offsets[2 * row]
        try:
            if _PREADV is not None:  # (one call for both)
                return _PREADV(self._fh.fileno(), [before, after], at) == len(before) + len(after)
            self._fh.seek(at)
            return self._fh.readinto(before) == len(before) and self._fh.readinto(after) == len(after)
        except OSError:
            return False

    def copy(self, first: int, stop: int, out: BinaryIO) -> None:
        """The text of rows first..stop-1 as stored, to the end of `out` (OSError where it
        cannot): by the kernel where it can (copy_file_range: 100,000 runs' 92 MB ~0.18 ->
        ~0.07 s here), else read and written."""
        at = self._start + self.offsets[2 * first]
        left = self.offsets[2 * stop] - self.offsets[2 * first]
        if _COPY_RANGE is not None:
            out.flush()
            try:
                while left:
                    done = _COPY_RANGE(self._fh.fileno(), out.fileno(), left, at)
                    if not done:
                        raise OSError("the rows file is shorter than its offsets say")
                    at, left = at + done, left - done
                return
            except OSError as exc:
                if exc.errno not in _NO_COPY_RANGE:
                    raise
            finally:
                out.seek(0, os.SEEK_END)
        self._fh.seek(at)
        while left:
            chunk = self._fh.read(min(left, 1 << 22))
            if not chunk:
                raise OSError("the rows file is shorter than its offsets say")
            out.write(chunk)
            left -= len(chunk)


_PREADV = getattr(os, "preadv", None)  # (not on Windows)
_COPY_RANGE = getattr(os, "copy_file_range", None)  # (Linux)
# where copy_file_range refuses these two files (another file system, an old kernel): the
# bytes are read and written instead
_NO_COPY_RANGE = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF)


def header(columns_header: dict) -> dict:
    return {**columns_header, "texts": sys.byteorder}


def load(path: Path, expected: dict) -> Texts | None:
    """The rows file at `path` if its first line is `expected` (header()) and its offsets and
    size agree; else None."""
    rows = expected.get("rows")
    if type(rows) is not int:
        return None
    try:
        fh = open(path, "rb", buffering=0)  # (rows are read where they lie, a few at a time)
    except OSError:
        return None
    try:
        head = fh.read(1 << 16)
        first = head[:head.find(b"\n")]
        start = len(first) + 1 + 8 * (2 * rows + 1)
        offsets = array("q")
        if offsets.itemsize == 8 and orjson.loads(first) == expected:
            fh.seek(len(first) + 1)
            offsets.frombytes(fh.read(start - len(first) - 1))
            if len(offsets) == 2 * rows + 1 and offsets[0] == 0 \
                    and start + offsets[-1] == os.fstat(fh.fileno()).st_size \
                    and all(map(operator.le, offsets, islice(offsets, 1, None))):
                return Texts(fh, offsets, start)
    except (OSError, ValueError):  # (orjson.JSONDecodeError, a ValueError)
        pass
    fh.close()
    return None


def write(out: BinaryIO, first_line: dict, picks: Sequence[int], base: int, old: Texts | None,
          render_old: Callable[[int], Split | None], render_new: Callable[[int], Split | None]) -> None:
    """The rows file for columns gathered by `picks` (each row's place in the old columns, or
    base + its place among the fresh entries): an old row's text copied from `old` where there
    is one (runs of consecutive rows at once), else rendered (`render_old(position)`,
    `render_new(k)`: the two parts, or None for no text)."""
    offsets = array("q", [0])
    chunks: list[bytes | tuple[int, int]] = []  # text, or a span of the old file's rows
    at = 0
    while at < len(picks):
        pick = picks[at]
        if old is not None and pick < base:
            at = _next_span(picks, at, base)
            last = picks[at - 1] + 1
            chunks.append((pick, last))
            shift = offsets[-1] - old.offsets[2 * pick]
            offsets.extend(map(shift.__add__, islice(old.offsets, 2 * pick + 1, 2 * last + 1)))
            continue
        split = render_old(pick) if pick < base else render_new(pick - base)
        before, after = split if split is not None else (b"", b"")
        offsets.append(offsets[-1] + len(before))
        offsets.append(offsets[-1] + len(after))
        chunks += (before, after)
        at += 1
    out.write(orjson.dumps(first_line) + b"\n")
    out.write(offsets.tobytes())
    for chunk in chunks:
        if isinstance(chunk, tuple):
            assert old is not None
            old.copy(*chunk, out)
        else:
            out.write(chunk)


def _next_span(picks: Sequence[int], at: int, base: int) -> int:
    """Where the run of consecutive old rows starting at picks[at] ends."""
    stop = at + 1
    while stop < len(picks) and picks[stop] == picks[stop - 1] + 1 and picks[stop] < base:
        stop += 1
    return stop
