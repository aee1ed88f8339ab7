"""The index's files as a reader finds them (store/index.py says what they hold and when
they are trusted): their names and first lines, the trailer read from the end of the index,
each line's head and entry, and the columns file parsed whole where it belongs to this very
index.  Nothing here writes (store/indexwrite.py does)."""
from __future__ import annotations

import hashlib
import operator
import os
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Sequence

import orjson

from wandb_cli.store import jsonio, rowtext

INDEX_NAME = "index.jsonl"
COLUMNS_NAME = "index.columns"
ROWS_NAME = "index.rows"
FORMAT = 3  # (3: a run document's time out of range is read as a problem, not kept)


def index_path(root: Path) -> Path:
    return root / ".wbrun" / INDEX_NAME


def columns_path(root: Path) -> Path:
    return root / ".wbrun" / COLUMNS_NAME


def rows_path(root: Path) -> Path:
    return root / ".wbrun" / ROWS_NAME


def header(schema: Sequence[str]) -> dict:
    return {"format": FORMAT, "fields": list(schema)}


def header_matches(line: bytes, schema: Sequence[str]) -> bool:
    return _line_is(line, header(schema))


def _line_is(line: bytes, expected: dict) -> bool:
    try:
        return jsonio.loads(line) == expected
    except ValueError:
        return False


def load(root: Path, schema: Sequence[str]) -> dict[str, tuple[int, list]]:
    """folder -> (signature, entry); whatever cannot be read is simply left out."""
    entries: dict[str, tuple[int, list]] = {}
    for name, (signature, line) in load_lines(root, schema)[0].items():
        entry = _parse(line, name, signature)
        if entry is not None:
            entries[name] = (signature, entry)
    return entries


def load_lines(root: Path, schema: Sequence[str]) -> tuple[dict[str, tuple[int, bytes]], dict]:
    """name -> (signature, the entry's whole line), and the trailer's other fields (empty
    when it has none).  A line is parsed in full only when its run is visited and still
    valid (the parsed documents of 100,000 runs held at once took ~350 MB; their lines take
    72 MB).  An index without its trailer (cut short, edited) is read by each line's head."""
    try:
        with open(index_path(root), "rb") as fh:
            read = _read(root, schema, fh, columns=False)
    except OSError:
        return {}, {}
    return read.cached, read.recorded


class _Read:
    """One read of the index for a scan: name -> (signature, its line, or its position in
    the columns where the columns file belongs to this index) and the trailer's other
    fields; with the columns, the entry lines are read only if the index is rewritten
    (old_line)."""

    def __init__(self, fh: BinaryIO | None = None, body: int = 0):
        self._cached: dict[str, tuple[int, Any]] | None = {}  # (None: built from names, sigs)
        self.recorded: dict = {}
        self.names: list[str] = []  # the trailer's, in its order (columns mode)
        self.sigs: list[int] = []  # (the same)
        # columns mode: what the columns file's first line says (the digest of the trailer it
        # belongs to, its rows); the columns themselves are read by the scan once the child
        # stat()ing is under way
        self.expected: tuple[str, int] | None = None
        self.columns: list[list] | None = None  # each field's values, then the run documents
        self.texts: rowtext.Texts | None = None  # the rows file, where loaded and it belongs here
        self._fh, self._body = fh, body  # (where the entry lines start)
        self._next = -1  # the position of the next line old_line() would read (-1: none read)
        self._block: list[bytes] = []  # lines read ahead by old_line(), from self._at on
        self._at = 0

    @property
    def cached(self) -> dict[str, tuple[int, Any]]:
        """name -> (signature, line or position); in columns mode made when first asked for
        (a listing of an unchanged store never asks: 100,000 runs ~0.04 s)."""
        if self._cached is None:
            self._cached = dict(zip(self.names, zip(self.sigs, range(len(self.names)))))
        return self._cached

    @cached.setter
    def cached(self, value: dict[str, tuple[int, Any]]) -> None:
        self._cached = value

    def old_line(self, position: int, name: str, signature: int) -> bytes | None:
        """The index's line at `position`, if it is the one for `name` at `signature`.  Read
        forward a block of lines at a time (a rewrite asks in order; no more than ~1 MB of
        the old index is held); None for one asked out of order (the caller encodes it
        again)."""
        if self._fh is None:
            return None
        try:
            if self._next < 0:
                self._fh.seek(self._body)
                self._next = 0
            if position < self._next:
                return None
            skip = position - self._next
            while skip >= len(self._block) - self._at:
                skip -= len(self._block) - self._at
                self._block, self._at = self._fh.readlines(1 << 20), 0
                if not self._block:
                    self._fh = None  # (the end: no such line)
                    return None
            line = self._block[self._at + skip]
            self._at += skip + 1
            self._next = position + 1
        except (OSError, ValueError):
            self._fh = None
            return None
        line = line[:-1] if line.endswith(b"\n") else line
        try:
            head = b'["%s",%d,' % (name.encode(), signature)
        except UnicodeEncodeError:
            return None
        return line if line.startswith(head) else None

    def load_columns(self, root: Path, schema: Sequence[str]) -> bool:
        assert self.expected is not None
        self.columns = _load_columns(root, schema, *self.expected)
        return self.columns is not None

    def load_texts(self, root: Path, schema: Sequence[str], fingerprint: str) -> rowtext.Texts | None:
        """The rows file, open, where it belongs to this index's columns and was rendered as
        `fingerprint` says (self.texts; None otherwise)."""
        if self.texts is None and self.columns is not None and self.expected is not None:
            self.texts = rowtext.load(rows_path(root), _rows_header(schema, self.expected, fingerprint))
        return self.texts

    def without_columns(self, root: Path, schema: Sequence[str]) -> _Read:
        """The same index read by its lines (the columns file failed after its first line)."""
        if self._fh is None:
            return _Read()
        try:
            self._fh.seek(0)
            return _read(root, schema, self._fh, columns=False)
        except OSError:  # (replaced meanwhile, on NFS: a stale handle) every run read afresh
            return _Read()


def _read(root: Path, schema: Sequence[str], fh: BinaryIO, *, columns: bool = True) -> _Read:
    """The index open in `fh`: its trailer read from the end, then the entry lines, unless
    the columns file's first line says it belongs to this very index (nothing else of the
    index is read then)."""
    if not header_matches(fh.readline(), schema):
        return _Read()
    start, size = fh.tell(), os.fstat(fh.fileno()).st_size
    cut, last = _last_line(fh, start, size)
    trailer = _trailer(last)
    if trailer is None:  # (none, or damaged: each line read by its head)
        fh.seek(start)
        lines = fh.read().split(b"\n")
        read = _Read()
        read.cached = _by_heads(lines)
        return read
    names, sigs = trailer.pop("folders"), trailer.pop("signatures")
    read = _Read(fh, start)
    expected = (_digest(last), len(names))
    if columns and len(names) == len(sigs) and _columns_belong(root, schema, *expected):
        read.names, read.sigs, read.recorded, read.expected = names, sigs, trailer, expected
        read._cached = None  # (made from names and sigs if asked for)
        return read
    fh.seek(start)
    lines = fh.read(cut - start).split(b"\n")[:-1]
    if len(names) == len(sigs) == len(lines):
        read.cached, read.recorded = dict(zip(names, zip(sigs, lines))), trailer
    else:
        read.cached = _by_heads(lines)
    return read


def _last_line(fh: BinaryIO, start: int, size: int) -> tuple[int, bytes]:
    """(where the file's last line starts, that line), read from the end in growing chunks
    (the trailer of 100,000 runs is ~5 MB, ~51 bytes a run; the lines before it ~55 MB)."""
    chunk = 1 << 23
    while True:
        at = max(start, size - chunk)
        fh.seek(at)
        tail = fh.read(size - at)
        end = len(tail) - 1 if tail.endswith(b"\n") else len(tail)
        cut = tail.rfind(b"\n", 0, end)
        if cut >= 0 or at == start:
            return at + cut + 1, tail[cut + 1:end]
        chunk *= 2


def _by_heads(lines: list[bytes]) -> dict[str, tuple[int, bytes]]:
    heads = map(_head, lines)
    return {head[0]: (head[1], line) for head, line in zip(heads, lines) if head is not None}


def _digest(trailer: bytes) -> str:
    """What ties a columns file to an index: a digest of the trailer it was written with,
    which names every cached run folder and its signature (an index rewritten by another
    wbrun, or edited, has another)."""
    return hashlib.blake2b(trailer, digest_size=16).hexdigest()


def _columns_header(schema: Sequence[str], trailer: str, rows: int) -> dict:
    return {"format": FORMAT, "fields": list(schema), "trailer": trailer, "rows": rows}


def _rows_header(schema: Sequence[str], expected: tuple[str, int], fingerprint: str) -> dict:
    return rowtext.header(_columns_header(schema, *expected), fingerprint)


def _columns_belong(root: Path, schema: Sequence[str], trailer: str, rows: int) -> bool:
    """Whether the columns file's first line says it was written with this index."""
    try:
        with open(columns_path(root), "rb") as fh:
            return _line_is(fh.readline().rstrip(b"\n"), _columns_header(schema, trailer, rows))
    except OSError:
        return False


def _load_columns(root: Path, schema: Sequence[str], trailer: str, rows: int) -> list[list] | None:
    """The columns file's columns (one list per field, then the run documents), or None
    when it is missing, unreadable, or was written with another index than this one."""
    try:
        data = columns_path(root).read_bytes()
    except OSError:
        return None
    ends = list(_line_ends(data))
    if len(ends) != len(schema) + 2 or ends[-1] != len(data) - 1 \
            or not _line_is(data[:ends[0]], _columns_header(schema, trailer, rows)):
        return None
    view = memoryview(data)  # (each line parsed where it lies: no copy of the 45 MB)
    try:
        columns = [orjson.loads(view[start + 1:end]) for start, end in zip(ends, ends[1:])]
    except ValueError:
        return None
    if set(map(type, columns)) != {list} or set(map(len, columns)) != {rows}:
        return None
    return columns


def _line_ends(data: bytes) -> Iterator[int]:
    at = data.find(b"\n")
    while at >= 0:
        yield at
        at = data.find(b"\n", at + 1)


def is_trailer(line: bytes) -> bool:
    return line.startswith(b'{"folders":')


def _trailer(line: bytes) -> dict | None:
    """The trailer's fields, or None for any other line or shape (a name that is not a run
    folder's plain name among them)."""
    if not is_trailer(line):
        return None
    try:
        trailer = orjson.loads(line)
    except ValueError:
        return None
    if type(trailer) is not dict:
        return None
    names, sigs, uncached = (trailer.get(key) for key in ("folders", "signatures", "uncached"))
    if type(names) is not list or type(sigs) is not list or type(uncached) is not list:
        return None
    if not set(map(type, sigs)) <= {int} or not _folder_names(names + uncached):
        return None
    return trailer


def _folder_names(names: list) -> bool:
    """Each a str naming a run folder inside the store: `run-...`, no separator, no NUL."""
    if not set(map(type, names)) <= {str} or not all(map(operator.methodcaller("startswith", "run-"), names)):
        return False
    joined = "".join(names)
    return os.sep not in joined and (os.altsep or os.sep) not in joined and "\0" not in joined


def _head(line: bytes) -> tuple[str, int] | None:
    """(folder, signature) from `["run-...",123,...`; None for any other shape."""
    end = line.find(b'"', 2)
    comma = line.find(b",", end + 2)
    if not line.startswith(b'["run-') or end < 0 or comma < 0 or b"\\" in line[2:end]:
        return None
    try:
        return line[2:end].decode(), int(line[end + 2:comma])
    except (ValueError, UnicodeDecodeError):
        return None


def _parse(line: bytes, name: str, signature: int) -> list | None:
    """The line's entry, if it is the one for `name` at `signature`."""
    try:  # orjson alone: a line holding what it cannot read exactly is never written (_encode)
        line_name, line_signature, entry = orjson.loads(line)
    except (ValueError, TypeError):
        return None
    if line_name != name or line_signature != signature:
        return None  # (the trailer and the line disagree: an edited index)
    return entry if type(entry) is list and len(entry) == 2 and type(entry[0]) is list else None


def _encode(name: str, signature: int, entry: list) -> bytes | None:
    """The entry's line, or None (not cached) where orjson could not read it back exactly:
    NaN/Infinity tokens, an integer beyond 64 bits (read as a float, silently)."""
    try:
        line = jsonio.dumps([name, signature, entry])
    except TypeError:
        return None
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return None if jsonio.has_long_digits(line) else line
