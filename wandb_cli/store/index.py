"""A cache of run records beside the run folders, so `runs ls` need not open every run.

Each line is `[folder, signature, entry]`; what an entry holds is the reader's business
(store.layout: a run's record fields); the header names its format and the entry's fields,
and an index written with other fields (an older or newer wbrun) is ignored and rebuilt.
The last line, the trailer, repeats the lines' folders and signatures as two arrays (read
with two parses instead of one head a line: 100,000 runs ~0.5 -> ~0.3 s here), names the
run folders the listing saw but did not cache, and identifies the store folder as it was
(inode, status change time).  A reader that predates the trailer skips it (its head is not
a run's), so the format did not change.

Invariant: the index is never trusted blindly.  Each entry carries the modification time
(ns) of its run's `files/` folder, which every document write changes (writes are renames
inside it).  An entry is used only if that signature still matches and the folder had last
changed at least RACY_NS before the index was built (so two changes within the
filesystem's timestamp granularity cannot hide behind one signature).  Folders missing from
the index are read; entries whose folder is gone are dropped; an unreadable index, or an
unreadable line of it, is ignored and rebuilt.  Crash judgement is never cached: it is
made afresh from the cached state record at every read.  The store folder is listed
again unless it is the one the trailer identifies, unchanged: its inode status change time
moves with every entry created, removed or renamed in it and cannot be set back (a copy
that restores the modification time, `cp -a` or `rsync -a`, still changes it), and is
recorded only when older than RACY_NS at the time.  The folders are then the trailer's
(cached and uncached); one that has gone is left out and the store listed next time.

Beside it, the columns file holds the same entries a field at a time, and a digest of the
trailer it was written with: where that digest is this index's, a listing builds every
cached entry's item at once from the columns (the reader's `build`), reads none of the
lines, and still checks each signature.  A columns file of another index, or one that
cannot be read whole, is ignored, and both files are written again.  A third file, the rows
file (store/rowtext.py), holds each cached run's JSON text for `--format json`, tied to the
index the same way and written with it where its texts can be copied from the old one; where
none belongs, a JSON listing writes it (alone, where nothing else of the index changed).
"""
from __future__ import annotations

import functools
import hashlib
import operator
import os
import time
from itertools import compress, islice, repeat
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, NamedTuple, Sequence

import orjson

from wandb_cli.nogc import no_cycle_collection
from wandb_cli.store import jsonio, rowtext, statchild

INDEX_NAME = "index.jsonl"
COLUMNS_NAME = "index.columns"
ROWS_NAME = "index.rows"
RACY_NS = 2_000_000_000
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


class _Writer:
    """A new index streamed to a temporary file as the scan goes (no 72 MB buffer), put in
    place by `commit()` with its columns file; any failure (read-only store, full disk)
    just leaves the old ones (a columns file left behind belongs to no index: ignored)."""

    def __init__(self, root: Path, schema: Sequence[str], read: _Read, texts: TextSpec):
        self.names: list[str] = []
        self.sigs: list[int] = []
        self.rows: list[Any] = []  # per line: its position in read.columns, or its entry
        self.read, self.schema, self.width = read, schema, len(schema) + 1
        self.root, self.texts = root, texts
        self.opened: rowtext.Texts | None = None  # an old rows file this writer opened itself
        self.path, self.columns_path, self.rows_path = index_path(root), columns_path(root), rows_path(root)
        self.tmp, self.fh = _temp_file(self.path)
        self.columns_tmp: Path | None = None
        self.rows_tmp: Path | None = None
        if self.fh is not None:
            self.write(jsonio.dumps(header(schema)))

    def write(self, line: bytes) -> None:
        try:
            assert self.fh is not None
            self.fh.write(line + b"\n")
        except OSError:
            self.abort()

    def add(self, name: str, sig: int, line: bytes | None, row: Any) -> bool:
        """Write one run's line (None: the old index's line at position `row`, or else its
        entry encoded again); False if it cannot be cached after all."""
        if line is None:
            line = self.read.old_line(row, name, sig) or _encode(name, sig, self._entry(row))
            if line is None:
                return False
        if self.fh is not None:
            self.names.append(name)
            self.sigs.append(sig)
            self.rows.append(row)
            self.write(line)
        return True

    def _entry(self, position: int) -> list:
        assert self.read.columns is not None  # (a position only where there are columns)
        return _entry_at(self.read.columns, position)

    def commit(self, fields: dict) -> None:
        """Put the index in place, its trailer holding `fields` too, and then its columns."""
        if self.fh is None:
            return
        trailer = jsonio.dumps({"folders": self.names, "signatures": self.sigs, **fields})
        self.write(trailer)
        try:
            if self.fh is None:
                return
            self.fh.close()
            self.fh = None
            self._write_columns(_digest(trailer))
            os.replace(self.tmp, self.path)
            if self.columns_tmp is not None:
                os.replace(self.columns_tmp, self.columns_path)
                self.columns_tmp = None
            if self.rows_tmp is not None:
                os.replace(self.rows_tmp, self.rows_path)
                self.rows_tmp = None
        except OSError:
            pass
        finally:
            self.abort()  # (whatever is left of the temporary files)

    def _write_columns(self, trailer: str) -> None:
        """The columns file for the index just written, under a temporary name (none where
        it cannot be written: the old one then belongs to no index).  Written a column at a
        time, each gathered by C-level maps from the old columns and the entries read
        afresh (no row of 100,000 built in Python, no second copy of them all)."""
        old = self.read.columns if self.read.columns is not None else [[]] * self.width
        base = len(old[0])
        fresh = [row for row in self.rows if type(row) is not int]
        values = [entry[0] for entry in fresh]
        if not set(map(len, values)) <= {self.width - 1}:
            return  # (an entry of another shape: a line of an edited index)
        picks: list[int] = []  # each row's place in the old column followed by the fresh entries
        taken = 0
        for row in self.rows:
            if type(row) is int:
                picks.append(row)
            else:
                picks.append(base + taken)
                taken += 1
        first_line = _columns_header(self.schema, trailer, len(picks))
        self.columns_tmp, out = _temp_file(self.columns_path)
        if out is None:
            return
        try:
            with out:
                out.write(jsonio.dumps(first_line) + b"\n")
                for k in range(self.width):
                    added = list(map(operator.itemgetter(k), values)) if k < self.width - 1 \
                        else [entry[1] for entry in fresh]
                    column = old[k] + added if added else old[k]
                    out.write(_column_bytes(list(map(column.__getitem__, picks))) + b"\n")
        except (OSError, TypeError):
            _unlink(self.columns_tmp)
            self.columns_tmp = None
            return
        self._write_rows(rowtext.header(first_line, self.texts.fingerprint), picks, base, fresh)

    def _write_rows(self, first_line: dict, picks: list[int], base: int, fresh: list) -> None:
        """The rows file for the columns just written, under a temporary name: each run's
        text copied from the old rows file where that belongs to the old columns, else
        rendered.  Where there is no old rows file that belongs (a first build too), only a
        listing that prints the texts writes one (rendering 100,000 runs takes ~1.4 s here)."""
        loaded = self.read.texts is not None
        old = self.read.load_texts(self.root, self.schema, self.texts.fingerprint)
        if old is None and not self.texts.wanted:
            return  # (a first build too: a listing of another kind renders no text)
        if not loaded and old is not None:
            self.opened = old  # (closed once written: no record refers to it)
        render = self.texts.render
        self.rows_tmp, out = _temp_file(self.rows_path)
        if out is None:
            return
        try:
            with out:
                rowtext.write(out, first_line, picks, base, old,
                              lambda position: render(self._entry(position)), lambda k: render(fresh[k]))
        except OSError:
            _unlink(self.rows_tmp)
            self.rows_tmp = None

    def abort(self) -> None:
        try:
            if self.fh is not None:
                self.fh.close()
        except OSError:
            pass
        self.fh = None
        _unlink(self.tmp)
        for tmp in (self.columns_tmp, self.rows_tmp):
            if tmp is not None:
                _unlink(tmp)
        self.columns_tmp = self.rows_tmp = None
        if self.opened is not None:
            self.opened.close()
            self.opened = None


def _entry_at(columns: list[list], position: int) -> list:
    *values, run = (column[position] for column in columns)
    return [values, run]


def _write_rows_alone(root: Path, schema: Sequence[str], read: _Read, texts: TextSpec) -> None:
    """The rows file of the index as it is (it has none that belongs, and nothing else of it
    changed: the index and its columns are not written again), every text rendered; where
    it cannot be written, the listing has gone without it."""
    assert read.columns is not None and read.expected is not None
    columns, rows = read.columns, read.expected[1]
    tmp, out = _temp_file(rows_path(root))
    if out is None:
        return
    try:
        with out:
            rowtext.write(out, _rows_header(schema, read.expected, texts.fingerprint), range(rows),
                          rows, None, lambda position: texts.render(_entry_at(columns, position)),
                          lambda k: None)
        if not _columns_belong(root, schema, *read.expected):
            raise OSError("the index was written again meanwhile: its own rows file is kept")
        os.replace(tmp, rows_path(root))
    except OSError:
        _unlink(tmp)


def _temp_file(path: Path) -> tuple[Path, BinaryIO | None]:
    """A new temporary file beside `path`, open for writing (None where it cannot be made)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{os.urandom(3).hex()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, jsonio.FILE_MODE)
    except OSError:
        return tmp, None
    return tmp, open(fd, "wb", buffering=1 << 20)


def _column_bytes(column: list) -> bytes:
    """A column as JSON: orjson, or where it refuses (a config nested past its 254 levels,
    which the line was written with all the same) the general encoder."""
    try:
        return orjson.dumps(column)
    except orjson.JSONEncodeError:
        return jsonio.dumps(column)


def _unlink(path: str | Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


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


def signature(folder: str, dir_fd: int | None) -> int | None:
    """The modification time (ns) of `folder/files`, `folder` relative to `dir_fd` (the
    store's; the kernel then walks two names, not the whole path: 100,000 runs 0.75 ->
    0.55 s here) or else a whole path; None where it cannot be read."""
    try:
        return os.stat(folder + "/files", dir_fd=dir_fd).st_mtime_ns
    except OSError:
        return None


# A store of at least this many runs is stat()ed by a forked child (store/statchild.py);
# under it, the fork costs more than it saves.
FORK_MIN = 4096


def _signature_at(base: str, dir_fd: int | None, name: str) -> int | None:
    return signature(name if dir_fd is not None else base + name, dir_fd)


def _start_writer(root: Path, schema: Sequence[str], read: _Read, kept: list | None,
                  uncached: list[str], texts: TextSpec) -> _Writer:
    """A new index, holding first the valid lines met before anything differed (a run
    whose line cannot be written after all joins `uncached`)."""
    writer = _Writer(root, schema, read, texts)
    assert kept is not None  # None only once a writer exists
    try:
        for name, sig, line, row in kept:
            if not writer.add(name, sig, line, row):
                uncached.append(name)
    except BaseException:  # (an interrupt while copying: no temporary file left behind)
        writer.abort()
        raise
    return writer


def _identity(root: Path, dir_fd: int | None) -> list[int] | None:
    """[inode, status change time (ns)] of the store folder, from the descriptor opened on
    it where there is one (an open revalidates a folder's attributes on NFS, a bare stat()
    may answer from a cache).  Not the device: NFS clients number it each their own way, and
    hosts sharing a store would each find the other's trailer foreign."""
    try:
        st = os.fstat(dir_fd) if dir_fd is not None else os.stat(root)
    except OSError:
        return None
    return [st.st_ino, st.st_ctime_ns]


def _utf8(name: str) -> bool:
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


def _open_dir(root: Path) -> int | None:
    """A descriptor of the store for relative stat()s, where the platform takes one."""
    if os.stat not in os.supports_dir_fd:
        return None
    try:
        return os.open(root, os.O_RDONLY)
    except OSError:
        return None


# What a scan makes of one entry (judged), given its run folder's path; of many at once (not
# judged), given their fields as columns (as the columns file keeps them), their paths and
# the rows file where the caller wants it and it belongs (row i of it is item i's); and how
# an item built from the columns is judged by its run document.
Make = Callable[[list, str], Any]
Build = Callable[[Sequence[list], list[str], "rowtext.Texts | None"], list]
Judge = Callable[[Any, dict], None]


class TextSpec(NamedTuple):
    """The rows file's side of a scan: an entry's text in two parts around its path (None:
    no text); a digest of how texts are rendered (a file rendered otherwise does not
    belong); and whether the items are to refer to the file (it is then kept open, and
    written alone where the index has none that belongs)."""
    render: Callable[[list], rowtext.Split | None]
    fingerprint: str
    wanted: bool


class Makers(NamedTuple):
    make: Make
    build: Build
    judge: Judge
    texts: TextSpec


def scan(root: Path, read_entry: Callable[[Path], list], schema: Sequence[str], *,
         make: Make, build: Build, judge: Judge, texts: TextSpec) -> Iterator[Any]:
    """`make(entry, run folder)` for every run folder, from the index where it is valid.

    `read_entry(run_dir)` reads one run's entry afresh; `schema` names what an entry holds;
    where the columns file holds the index's entries, `build` makes all their items at once
    (the items `make` would, before judging) and `judge` settles those still running, once
    their entries are known to be valid.  The index is rewritten when anything differed
    from it, before the first item is given: nothing a caller does to an item can reach
    the files.  The cyclic garbage collector is paused until the caller has taken the last
    item (or dropped the iterator): the parsed documents hold no cycles, and its repeated
    passes over them cost more than parsing them (100,000 runs: a whole `runs ls` took
    5.8 s with it, 4.1 s without).
    """
    with no_cycle_collection():
        yield from _scan(root, read_entry, schema, Makers(make, build, judge, texts))


def _scan(root: Path, read_entry: Callable[[Path], list], schema: Sequence[str],
          makers: Makers) -> Iterator[Any]:
    started = time.time_ns()
    dir_fd = _open_dir(root)
    fh: BinaryIO | None = None
    try:
        identity = _identity(root, dir_fd)  # (before the folder is listed: a change after it shows)
        try:
            fh = open(index_path(root), "rb")
            read = _read(root, schema, fh)
        except OSError:
            read = _Read()
        items = _scan_store(root, dir_fd, identity, started, read_entry, schema, read, makers)
    finally:
        if fh is not None:
            fh.close()
        if dir_fd is not None:
            os.close(dir_fd)
    yield from items


def _scan_store(root: Path, dir_fd: int | None, identity: list[int] | None, started: int,
                read_entry: Callable[[Path], list], schema: Sequence[str], read: _Read,
                makers: Makers) -> list:
    make, build, judge, texts = makers
    recorded = read.recorded
    trusted = identity is not None and recorded.get("store") == identity
    # Runs in the order of their folders' names, newest first (a name starts with the run's
    # start): a listing's records are built, and lie in memory, in about the order it shows
    # them, so every later pass over them reads memory in order (100,000 runs: sorting them
    # and reading `--group-by`'s columns 2.6 -> 1.1 s in-process); and runs a sort leaves
    # tied keep one order whichever of them the index holds.  The index is kept in that
    # order, so the sort finds it done in one pass (an unsorted 100,000 took ~0.4 s here);
    # an index in any other order is rewritten.
    if trusted and read.expected is not None and not recorded["uncached"] \
            and _descending(read.names):
        # the folders are the trailer's, in order, each once: no set or map of them is made
        # unless something differs (100,000 runs ~0.04 s)
        order, reorder = read.names, False
    else:
        found = _order(root, read.cached, recorded, trusted=trusted)
        if found is None:  # (the store folder is gone)
            return []
        order, reorder = found
    base = os.path.join(root, "")
    stat_one = functools.partial(_signature_at, base, dir_fd)
    signatures = statchild.stat_all(order, stat_one, keep_fd=dir_fd,
                                    forked=len(order) >= FORK_MIN and statchild.may_fork())
    writer: _Writer | None = None
    try:
        items: list | None = None
        runs: list = []
        if read.expected is not None:
            # the child (if any) starts on the first result, and stats while the columns are
            # parsed and the items built
            sigs = list(islice(signatures, 1))
            if not read.load_columns(root, schema):  # (replaced or damaged since its first line)
                signatures.close()
                return _scan_store(root, dir_fd, identity, started, read_entry, schema,
                                   read.without_columns(root, schema), makers)
            assert read.columns is not None
            wanted = read.load_texts(root, schema, texts.fingerprint) if texts.wanted else None
            items = build(read.columns[:-1], list(map(base.__add__, read.names)), wanted)
            runs = read.columns[-1]
            sigs += signatures
            if order == read.names and sigs == read.sigs \
                    and _fields(identity, started, [], vanished=False) == recorded:
                # every entry valid, none missing, nothing to write: no run looked at alone
                present = map(operator.is_not, runs, repeat(None))
                for item, run in zip(compress(items, present), filter(_PRESENT, runs)):
                    judge(item, run)
                if texts.wanted and wanted is None:
                    _write_rows_alone(root, schema, read, texts)
                return items
            results: Iterator[int | None] = iter(sigs)
        else:
            results = signatures
        cached = read.cached
        kept: list | None = []  # valid lines met before the first change: (name, sig, line, row)
        uncached: list[str] = []
        if items is None:  # no columns file for this index: it is written again, with one
            writer = _start_writer(root, schema, read, kept, uncached, texts)
            kept = None
        written = 0
        vanished = False
        out = []
        for name, sig in zip(order, results):
            path = base + name
            if sig is None and trusted and not os.path.isdir(path):
                vanished = True  # (gone with the store folder's time unchanged: list it next time)
                continue
            hit = cached.get(name)
            old = hit[1] if sig is not None and hit is not None and hit[0] == sig else None
            line: bytes | None = None
            if old is not None and items is not None:
                valid, row, item = True, old, items[old]  # (its line is read if the index is rewritten)
                if runs[old] is not None:
                    judge(item, runs[old])
            else:
                row = _parse(old, name, sig) if old is not None and sig is not None else None
                valid = row is not None
                if valid:
                    line = old
                else:
                    row = read_entry(Path(path))
                    if sig is not None and started - sig > RACY_NS:
                        line = _encode(name, sig, row)
                item = make(row, path)  # a str: building 100,000 Path objects cost ~0.2 s
            # a line added, changed or dropped (a run that cannot be cached changes nothing)
            if writer is None and (reorder or not valid and (line is not None or hit is not None)):
                writer = _start_writer(root, schema, read, kept, uncached, texts)  # something differs
                kept = None
            if sig is None or not valid and line is None:
                uncached.append(name)
            elif writer is None:
                assert kept is not None  # None only once a writer exists
                kept.append((name, sig, line, row))
                written += 1
            elif writer.add(name, sig, line, row):
                written += 1
            else:
                uncached.append(name)
            out.append(item)
        fields = _fields(identity, started, uncached, vanished=vanished)
        if writer is None and (written != len(cached) or fields != recorded):
            writer = _start_writer(root, schema, read, kept, uncached, texts)  # only removals, or the other fields
            fields = _fields(identity, started, uncached, vanished=vanished)
        if writer is not None:
            writer.commit(fields)
            writer = None
        elif texts.wanted and items is not None and read.texts is None:
            _write_rows_alone(root, schema, read, texts)
        return out
    finally:
        signatures.close()
        if writer is not None:  # (an error: keep the old index)
            writer.abort()


_PRESENT = functools.partial(operator.is_not, None)


def _descending(names: list[str]) -> bool:
    return all(map(operator.gt, names, islice(names, 1, None)))


def _order(root: Path, cached: dict, recorded: dict, *,
           trusted: bool) -> tuple[list[str], bool] | None:
    """(the run folders, newest first; whether the index holds its folders in another
    order), the folders being the trailer's where the store folder is unchanged (`trusted`),
    else those found there (None: there is no store folder)."""
    if trusted:  # no entry created, removed or renamed in the store folder since the index
        folders = set(cached).union(recorded["uncached"])
    else:
        try:
            folders = {entry.name for entry in os.scandir(root)
                       if entry.name.startswith("run-") and entry.is_dir(follow_symlinks=False)}
        except FileNotFoundError:
            return None
    known = list(cached) if folders.issuperset(cached) else [n for n in cached if n in folders]
    reorder = not _descending(known)
    order = known + list(folders.difference(cached))
    order.sort(reverse=True)
    return order, reorder


def _fields(identity: list[int] | None, started: int, uncached: list[str], *, vanished: bool) -> dict:
    """The trailer's other fields: the folders not cached, and the store folder's identity
    once it has settled (and nothing is left out of the two lists)."""
    # (a name JSON cannot hold, not UTF-8, is left out: the store is then listed each time)
    named = [name for name in uncached if _utf8(name)]
    settled = identity is not None and not vanished and len(named) == len(uncached) \
        and started - identity[-1] > RACY_NS
    return {"uncached": named, "store": identity if settled else None}
