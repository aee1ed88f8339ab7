"""The index written again (store/index.py says when): the new index streamed to a
temporary file as the scan goes, then its columns file and, where it has texts to copy or a
listing wants them, its rows file (store/rowtext.py), each put in place by a rename once
whole.  Any failure (a read-only store, a full disk) leaves the old files: a columns or rows
file left behind belongs to no index and is ignored."""
from __future__ import annotations

import operator
import os
from pathlib import Path
from typing import Any, BinaryIO, Callable, NamedTuple, Sequence

import orjson

from wandb_cli.store import jsonio, rowtext
from wandb_cli.store.indexread import (
    _columns_belong,
    _columns_header,
    _digest,
    _encode,
    _Read,
    _rows_header,
    coded,
    column_values,
    columns_path,
    header,
    index_path,
    line_digest,
    rows_path,
)


class TextSpec(NamedTuple):
    """The rows file's side of a scan: an entry's text in two parts around its path (None:
    no text); a digest of how texts are rendered (a file rendered otherwise does not
    belong); and whether the items are to refer to the file (it is then kept open, and
    written alone where the index has none that belongs)."""
    render: Callable[[list], rowtext.Split | None]
    fingerprint: str
    wanted: bool


class _Writer:
    """A new index streamed to a temporary file as the scan goes (no 72 MB buffer), put in
    place by `commit()` with its columns file; any failure (read-only store, full disk)
    just leaves the old ones (a columns file left behind belongs to no index: ignored)."""

    def __init__(self, root: Path, schema: Sequence[str], read: _Read, texts: TextSpec,
                 deferred: frozenset[str]):
        self.deferred = deferred  # the fields whose columns are kept as text (indexread.Deferred)
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
        afresh (no row of 100,000 built in Python, no second copy of them all), but for the
        deferred ones, made first: the first line gives their digests."""
        old = self.read.columns if self.read.columns is not None else [[]] * self.width
        base = len(column_values(old[0]))
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

        def column(k: int) -> list:
            added = list(map(operator.itemgetter(k), values)) if k < self.width - 1 \
                else [entry[1] for entry in fresh]
            before = column_values(old[k])
            both = before + added if added else before
            return list(map(both.__getitem__, picks))

        first_line = _columns_header(self.schema, trailer, len(picks))
        try:
            deferred = {k: orjson.dumps(column(k)) for k, name in enumerate(self.schema)
                        if name in self.deferred}
        except TypeError:  # (orjson.JSONEncodeError among them)
            deferred = {}  # (kept as the others are, and parsed as they are)
        self.columns_tmp, out = _temp_file(self.columns_path)
        if out is None:
            return
        try:
            with out:
                out.write(jsonio.dumps({**first_line, "deferred": {
                    str(k): line_digest(text) for k, text in deferred.items()}}) + b"\n")
                for k in range(self.width):
                    text = deferred.pop(k, None)
                    if text is None:
                        values_k = column(k)
                        text = _column_bytes(coded(values_k) or values_k)
                    out.write(text + b"\n")
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


def _entry_at(columns: list, position: int) -> list:
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


def _column_bytes(column: list | dict) -> bytes:
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


def _start_writer(root: Path, schema: Sequence[str], read: _Read, kept: list | None,
                  uncached: list[str], texts: TextSpec, deferred: frozenset[str]) -> _Writer:
    """A new index, holding first the valid lines met before anything differed (a run
    whose line cannot be written after all joins `uncached`)."""
    writer = _Writer(root, schema, read, texts, deferred)
    assert kept is not None  # None only once a writer exists
    try:
        for name, sig, line, row in kept:
            if not writer.add(name, sig, line, row):
                uncached.append(name)
    except BaseException:  # (an interrupt while copying: no temporary file left behind)
        writer.abort()
        raise
    return writer
