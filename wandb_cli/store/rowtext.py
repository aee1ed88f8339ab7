"""Each cached run's JSON text for `runs ls --format json`, kept beside the index (`index.rows`).

`runs ls --format json` at 100,000 runs spent ~0.5 s here of its ~1.15 s building and encoding
the 28,000 runs it printed (`to_dict`, then orjson), each time, for runs that had not changed.
The text of a run whose entry is unchanged is the same every time but for its folder's path
(the store may be reached by another path), so it is written once, when its index entry is,
in two parts around that path, and a JSON listing joins the parts of the runs it prints.

Invariant: a text is never more trusted than its entry.  The file is tied to one index as the
columns file is (a first line naming the digest of the index's trailer and its rows, and a
digest of how texts are rendered: another wbrun, orjson or time zone rules may spell a run
otherwise) and holds one text per row of the columns file, in the same order.  A listing uses
it only where it belongs to the index whose columns it read, only for entries the columns gave
(a run read afresh has none), from the file as it checked it (the file is never written in
place: a rewrite renames another over it), only with the offsets it was written with (their
digest ends it), and only texts that begin and end as a run's does and hold no NUL; a file
that gave one that does not is removed.  A run judged when read (a running run) has an empty
text.  A file that is missing, of another index, cut short or whose offsets do not climb is
not used, and written again by the next JSON listing (alone, where the index itself is not
written again).  An index rewrite copies the texts of unchanged runs from the old file where
it belongs; where none does, only a JSON listing renders them.  The file is open only while
something refers to it: a JSON listing's records, or a rewrite copying from it.

Layout: the first line; then 2 * rows + 1 offsets (int64, in the byte order the first line
names) into the text after them: row i is text[o[2i]:o[2i+2]], its path going in at o[2i+1];
then a 16-byte BLAKE2b digest of the offsets as written.
"""
from __future__ import annotations

import errno
import hashlib
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
    """An index's rows file, open (a raw descriptor, closed with the object or by close()),
    its offsets read: a row's text is read only when asked for, straight into the caller's
    buffer (no mapping of the file: its pages would count in the listing's memory).  The
    file is never written in place (a rewrite renames another over it), so what is read is
    what was checked."""

    def __init__(self, fd: int, path: Path):
        self._fd: int | None = fd
        self.path, self.offsets, self._start = path, array("q"), 0

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        fd, self._fd = self._fd, None  # (never closed twice: the number may be another file's)
        if fd is not None:
            os.close(fd)

    def discard(self) -> None:
        """Remove the file where it is still this one (a text in it was not a run's: the next
        JSON listing writes it again), and close it."""
        try:
            if self._fd is not None and os.path.samestat(os.fstat(self._fd), os.stat(self.path)):
                os.unlink(self.path)
        except OSError:
            pass
        self.close()

    def lengths(self, row: int) -> tuple[int, int] | None:
        """The lengths of row `row`'s text before and after its path; None where it has none."""
        offsets, at = self.offsets, 2 * row
        begin, middle, end = offsets[at], offsets[at + 1], offsets[at + 2]
        return None if begin == end else (middle - begin, end - middle)

    def read_into(self, row: int, before: memoryview, after: memoryview) -> bool:
        """Row `row`'s two parts into `before` and `after` (of the lengths() given); False
        where the file gave less, or is closed."""
        if self._fd is None:
            return False
        at, size = self._start + self.offsets[2 * row], len(before) + len(after)
        try:
            if _PREADV is not None:  # (one call for both)
                return _PREADV(self._fd, [before, after], at) == size
            data = _read_at(self._fd, size, at)
        except OSError:
            return False
        if len(data) != size:
            return False
        before[:], after[:] = data[:len(before)], data[len(before):]
        return True

    def copy(self, first: int, stop: int, out: BinaryIO) -> None:
        """The text of rows first..stop-1 as stored, to the end of `out` (OSError where it
        cannot): by the kernel where it can (copy_file_range: 100,000 runs' 92 MB ~0.18 ->
        ~0.07 s here), else read and written."""
        if self._fd is None:
            raise OSError("the rows file was closed")
        at = self._start + self.offsets[2 * first]
        left = self.offsets[2 * stop] - self.offsets[2 * first]
        if _COPY_RANGE is not None:
            out.flush()
            try:
                while left:
                    done = _COPY_RANGE(self._fd, out.fileno(), left, at)
                    if not done:
                        break  # (some file systems answer 0 for "not here": read and written)
                    at, left = at + done, left - done
            except OSError as exc:
                if exc.errno not in _NO_COPY_RANGE:
                    raise
            finally:
                out.seek(0, os.SEEK_END)
        while left:  # (a copy_file_range that stopped short goes on from where it stopped)
            chunk = _read_at(self._fd, min(left, 1 << 22), at)
            if not chunk:
                raise OSError("the rows file is shorter than its offsets say")
            out.write(chunk)
            at, left = at + len(chunk), left - len(chunk)


def _read_at(fd: int, size: int, at: int) -> bytes:
    if _PREAD is not None:
        return _PREAD(fd, size, at)
    os.lseek(fd, at, os.SEEK_SET)  # (Windows)
    return os.read(fd, size)


_PREADV = getattr(os, "preadv", None)  # (not on Windows)
_PREAD = getattr(os, "pread", None)  # (the same)
_COPY_RANGE = getattr(os, "copy_file_range", None)  # (Linux)
# where copy_file_range refuses these two files (another file system, an old kernel): the
# bytes are read and written instead
_NO_COPY_RANGE = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF)


def header(columns_header: dict, fingerprint: str) -> dict:
    """The first line of the rows file for the columns file whose first line is
    `columns_header`, its texts rendered as `fingerprint` says (a digest of a sample rendered:
    another wbrun, orjson or time zone rules may spell a run otherwise)."""
    return {**columns_header, "texts": sys.byteorder, "render": fingerprint}


def load(path: Path, expected: dict) -> Texts | None:
    """The rows file at `path`, open, if its first line is `expected` (header()), its offsets
    are the ones written (their digest, at the file's end) and its size agrees; else None."""
    rows = expected.get("rows")
    if type(rows) is not int:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    texts = Texts(fd, path)  # (closes the descriptor however this ends)
    try:
        head = _read_at(fd, 1 << 16, 0)
        first = head[:head.find(b"\n")]
        start = len(first) + 1 + 8 * (2 * rows + 1)
        if texts.offsets.itemsize != 8 or orjson.loads(first) != expected:
            return None
        block = _read_at(fd, start - len(first) - 1, len(first) + 1)
        texts.offsets.frombytes(block)
        size = os.fstat(fd).st_size
        seal = _read_at(fd, _SEAL, size - _SEAL) if size >= start + _SEAL else b""
    except (OSError, ValueError):  # (orjson.JSONDecodeError, a ValueError)
        return None
    offsets = texts.offsets
    if len(offsets) != 2 * rows + 1 or offsets[0] != 0 or start + offsets[-1] + _SEAL != size \
            or seal != _seal(block) or not all(map(operator.le, offsets, islice(offsets, 1, None))):
        return None
    texts._start = start
    return texts


def _seal(offsets: bytes) -> bytes:
    """What ends the file: a digest of its offsets as written (offsets zeroed or torn by a
    power cut after the rename climb still, and would join the texts of several runs)."""
    return hashlib.blake2b(offsets, digest_size=_SEAL).digest()


_SEAL = 16


def write(out: BinaryIO, first_line: dict, picks: Sequence[int], base: int, old: Texts | None,
          render_old: Callable[[int], Split | None], render_new: Callable[[int], Split | None]) -> None:
    """The rows file for columns gathered by `picks` (each row's place in the old columns, or
    base + its place among the fresh entries): an old row's text copied from `old` where there
    is one (runs of consecutive rows at once), else rendered (`render_old(position)`,
    `render_new(k)`: the two parts, or None for no text).  Streamed: the offsets are written
    last, over the zeros that held their place, their digest at the end (no text of 100,000
    is held at once)."""
    out.write(orjson.dumps(first_line) + b"\n")
    place = out.tell()
    out.write(bytes(8 * (2 * len(picks) + 1)))
    offsets = array("q", [0])
    at = 0
    while at < len(picks):
        pick = picks[at]
        if old is not None and pick < base:
            at = _next_span(picks, at, base)
            last = picks[at - 1] + 1
            old.copy(pick, last, out)
            shift = offsets[-1] - old.offsets[2 * pick]
            offsets.extend(map(shift.__add__, islice(old.offsets, 2 * pick + 1, 2 * last + 1)))
            continue
        split = render_old(pick) if pick < base else render_new(pick - base)
        before, after = split if split is not None else (b"", b"")
        out.write(before)
        out.write(after)
        offsets.append(offsets[-1] + len(before))
        offsets.append(offsets[-1] + len(after))
        at += 1
    block = offsets.tobytes()
    out.write(_seal(block))
    out.flush()
    out.seek(place)
    out.write(block)
    out.seek(0, os.SEEK_END)


def _next_span(picks: Sequence[int], at: int, base: int) -> int:
    """Where the run of consecutive old rows starting at picks[at] ends."""
    stop = at + 1
    while stop < len(picks) and picks[stop] == picks[stop - 1] + 1 and picks[stop] < base:
        stop += 1
    return stop
