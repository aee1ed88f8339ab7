"""The index's files as a reader finds them (store/index.py says what they hold and when
they are trusted): their names and first lines, the trailer read from the end of the index,
each line's head and entry, and the columns file parsed whole where it belongs to this very
index.  Nothing here writes (store/indexwrite.py does)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Sequence

import orjson

from wandb_cli.store import jsonio, rowtext

INDEX_NAME = "index.jsonl"
COLUMNS_NAME = "index.columns"
ROWS_NAME = "index.rows"
FORMAT = 3  # (3: a run document's time out of range is read as a problem, not kept)
# The columns file's own (4: a column of few texts may be coded, and a column the reader
# defers kept as text, its digest in the first line)
COLUMNS_FORMAT = 4


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
        # each field's values (a field the reader defers: Deferred), then the run documents
        self.columns: list[list | Deferred] | None = None
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
    """What the columns file's first line says of the index it belongs to (that line also
    gives the digests of the columns it defers: `_deferred_in`)."""
    return {"format": COLUMNS_FORMAT, "fields": list(schema), "trailer": trailer, "rows": rows}


def _rows_header(schema: Sequence[str], expected: tuple[str, int], fingerprint: str) -> dict:
    return rowtext.header(_columns_header(schema, *expected), fingerprint)


def _columns_belong(root: Path, schema: Sequence[str], trailer: str, rows: int) -> bool:
    """Whether the columns file's first line says it was written with this index."""
    try:
        with open(columns_path(root), "rb") as fh:
            first = fh.readline().rstrip(b"\n")
    except OSError:
        return False
    return _deferred_in(first, _columns_header(schema, trailer, rows)) is not None


def _deferred_in(line: bytes, expected: dict) -> dict[int, str] | None:
    """The columns file's first line's digests of the columns it defers (field position ->
    digest), where the rest of it is `expected`; None for any other line."""
    first = _json_object(line)
    if first is None:
        return None
    digests = first.pop("deferred", None)
    if type(digests) is not dict or first != expected:
        return None
    deferred = {}
    for key, digest in digests.items():
        if type(digest) is not str or not key.isdigit() or int(key) >= len(expected["fields"]):
            return None  # (only a field's column: the run documents are never deferred)
        deferred[int(key)] = digest
    return deferred


def _json_object(line: bytes) -> dict | None:
    """The JSON object a line holds (orjson: strict JSON), or None for anything else."""
    try:
        value = orjson.loads(line)
    except ValueError:
        return None
    return value if type(value) is dict else None


def _load_columns(root: Path, schema: Sequence[str], trailer: str,
                  rows: int) -> list[list | Deferred] | None:
    """The columns file's columns (one per field, then the run documents), or None when it
    is missing, unreadable, or was written with another index than this one.  A coded
    column is decoded; a deferred one is checked against its digest, not parsed."""
    try:
        data = columns_path(root).read_bytes()
    except OSError:
        return None
    ends = list(_line_ends(data))
    if len(ends) != len(schema) + 2 or ends[-1] != len(data) - 1:
        return None
    deferred = _deferred_in(data[:ends[0]], _columns_header(schema, trailer, rows))
    if deferred is None:
        return None
    view = memoryview(data)  # (each line parsed where it lies: no copy of the 45 MB)
    columns: list[list | Deferred] = []
    for k, (start, end) in enumerate(zip(ends, ends[1:])):
        column = _column(view[start + 1:end], rows, deferred.get(k))
        if column is None:
            return None
        columns.append(column)
    return columns


def _column(text: memoryview, rows: int, digest: str | None) -> list | Deferred | None:
    """One line of the columns file: its values (decoded where coded), or kept as text where
    deferred (`digest`); None where it is not what it should be."""
    if digest is not None:
        return Deferred(bytes(text)) if line_digest(text) == digest else None
    try:
        column = orjson.loads(text)
    except ValueError:
        return None
    column = _decoded(column, rows) if type(column) is dict else column
    return column if type(column) is list and len(column) == rows else None


def line_digest(text: bytes | memoryview) -> str:
    """What the columns file's first line gives for a column it defers (100,000 runs'
    commands, 7 MB: ~8 ms here, where parsing them took ~60 ms)."""
    return hashlib.blake2b(text, digest_size=16).hexdigest()


class Deferred:
    """A column kept as its text, which matched its digest (so it is the text the writer
    wrote with orjson, of as many values as the file has rows), parsed when first asked for:
    a field that few listings read is not parsed by every one."""

    __slots__ = ("_text", "_values")

    def __init__(self, text: bytes):
        self._text: bytes | None = text
        self._values: list | None = None

    def values(self) -> list:
        if self._values is None:
            text = self._text
            if text is not None:  # (else another thread parsed it meanwhile)
                self._values = orjson.loads(text)
                self._text = None  # (after the values: a reader finds one or the other)
        assert self._values is not None
        return self._values

    def __getitem__(self, row: int) -> Any:
        return self.values()[row]


def column_values(column: list | Deferred) -> list:
    return column.values() if isinstance(column, Deferred) else column


# A column of texts is coded (`{"values": [each text once], "codes": "a character per run"}`,
# the character of the text's place in CODE_CHARS) where its runs share few: a store's states,
# projects, hosts (100,000 runs: ~8 -> ~3 ms each to read, and one object per text, not one
# per run).  The characters are ones JSON writes as they are, each a cached object in Python.
CODE_CHARS = "".join(chr(c) for c in [*range(0x23, 0x7f), *range(0xa0, 0x100)] if chr(c) != "\\")
CODED_MOST = 8  # (at most one text for each CODED_MOST runs: otherwise kept as it is)
_TEXTS = frozenset({str, type(None)})


def coded(column: list) -> dict | None:
    """The coded form of a column of texts (None among them) that few texts make up; None
    for any other column, and for one of None alone (which reads quicker as it is)."""
    sample = column[:4096]  # (first: most columns are not texts, or all different)
    if not sample or not set(map(type, sample)) <= _TEXTS or len(set(sample)) * CODED_MOST > len(sample):
        return None
    if not set(map(type, column)) <= _TEXTS:
        return None
    values = list(dict.fromkeys(column))
    if len(values) * CODED_MOST > len(column) or len(values) > len(CODE_CHARS) or values == [None]:
        return None
    return {"values": values, "codes": "".join(map(dict(zip(values, CODE_CHARS)).__getitem__, column))}


def _decoded(column: dict, rows: int) -> list | None:
    """A coded column's values, or None for one of another shape."""
    values, codes = column.get("values"), column.get("codes")
    if len(column) != 2 or type(values) is not list or type(codes) is not str or len(codes) != rows:
        return None
    try:
        return list(map(dict(zip(CODE_CHARS, values)).__getitem__, codes))
    except KeyError:  # (a character of no text)
        return None


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
    trailer = _json_object(line) if is_trailer(line) else None
    if trailer is None:
        return None
    names, sigs, uncached = (trailer.get(key) for key in ("folders", "signatures", "uncached"))
    if type(names) is not list or type(sigs) is not list or type(uncached) is not list:
        return None
    if not set(map(type, sigs)) <= {int} or not _folder_names(names + uncached):
        return None
    return trailer


_OTHER_SEPARATORS = {os.sep, os.altsep or os.sep} - {"/"}  # (none on POSIX)


def _folder_names(names: list) -> bool:
    """Each a str naming a run folder inside the store: `run-...`, no separator, no NUL.
    Counted in the names joined by "/" (100,000 names: ~20 -> ~5 ms here): a "/" only
    between them, each "run-" after one."""
    if not set(map(type, names)) <= {str}:
        return False
    joined = "/".join(names)
    if joined.count("/") != max(len(names) - 1, 0) or ("/" + joined).count("/run-") != len(names):
        return False
    return "\0" not in joined and not any(sep in joined for sep in _OTHER_SEPARATORS)


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
