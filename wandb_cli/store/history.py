"""Reading a run's history and events back (pure reads, no terminal).

Invariant: a torn or corrupt line is skipped and reported once per file through `warn`;
every readable line before and after it is returned.
"""
from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator

import orjson

from wandb_cli.store import jsonio
from wandb_cli.store.layout import EVENTS, HISTORY, HISTORY_KEYS, RunPaths


def _stderr_warning(message: str) -> None:
    from wandb_cli.textfmt import printable

    print(f"wbrun: warning: {printable(message)}", file=sys.stderr)


def read_rows(run_dir: str | Path, name: str = HISTORY,
              warn: Callable[[str], None] | None = _stderr_warning) -> list[dict]:
    return list(jsonio.iter_jsonl(RunPaths(Path(run_dir)).file(name), on_torn=warn))


def read_history(run_dir, warn=_stderr_warning) -> list[dict]:
    return read_rows(run_dir, HISTORY, warn)


def read_events(run_dir, warn=_stderr_warning) -> list[dict]:
    return read_rows(run_dir, EVENTS, warn)


def columns_of(rows: list[dict]) -> list[str]:
    """Keys in first-seen order, the `_` keys first as W&B shows them."""
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return order_columns(seen)


def order_columns(seen: Iterable[str]) -> list[str]:
    """First-seen keys, the `_` keys first as W&B shows them."""
    seen = dict.fromkeys(seen)
    special = [k for k in HISTORY_KEYS if k in seen]
    return special + [k for k in seen if k not in special]


def numeric_series(rows: list[dict], *, skip_private: bool = True) -> dict[str, list[float]]:
    series: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            if skip_private and key.startswith("_"):
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                series.setdefault(key, []).append(value)
    return series


def to_csv(rows: list[dict], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _csv_cell(row.get(c)) for c in columns])
    return out.getvalue()


def _csv_cell(value) -> str:
    if isinstance(value, (dict, list)):
        return jsonio.dumps(value).decode("utf-8", "replace")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def big_history(run_dir) -> tuple[list[str], int] | None:
    """For a history too big to read whole: its keys (first seen first) and the bytes its digest covers
    (read no further, so the columns describe every row read); None for a small one."""
    from wandb_cli.store import digest

    if digest.history_size(run_dir) < digest.SMALL_BYTES:
        return None
    summary = digest.load_digest(run_dir)
    return list(summary.columns), summary.covered


def history_blocks(run_dir, warn=_stderr_warning) -> tuple[list[str], Iterator[list[dict]]]:
    """The history's columns and its rows in blocks, streamed in bounded memory: a small
    history is read whole (one block); a big one up to the end its digest covers (the
    digest names the columns), so columns and rows describe the same bytes."""
    from wandb_cli.store import digest

    if digest.history_size(run_dir) < digest.SMALL_BYTES:
        rows = read_history(run_dir, warn)
        return columns_of(rows), iter([rows])
    summary = digest.load_digest(run_dir)
    return order_columns(summary.columns), _stream(run_dir, summary.covered, warn)


def _stream(run_dir, end: int, warn) -> Iterator[list[dict]]:
    from wandb_cli.store import digest

    path = RunPaths(Path(run_dir)).file(HISTORY)
    bad = 0
    with open(path, "rb") as fh:
        for block, _ in digest.iter_blocks(fh, 0, end):
            rows, torn = digest.parse_block(block)
            bad += torn
            yield rows
    if bad and warn is not None:
        warn(f"{path}: skipped {bad} torn or corrupt line{'s' if bad > 1 else ''}")


def raw_blocks(run_dir, end: int) -> Iterator[bytes]:
    """The history's first `end` bytes in blocks of whole lines."""
    from wandb_cli.store import digest

    with open(RunPaths(Path(run_dir)).file(HISTORY), "rb") as fh:
        for block, _ in digest.iter_blocks(fh, 0, end):
            yield block


# A JSON number as orjson or json writes it is, as text, what str() gives for the value it
# reads back as, when it is digits, a sign and a point.  Exponents and numbers below 1e-4
# are spelt differently (JSON writers: 1.5e-7, 0.00005; Python 1.5e-07, 5e-05): their `e`
# is kept as _E while the keys' letters are taken out of the lines, and the cells holding
# it or starting 0.0000 are spelt again as Python spells them.  NaN and Infinity (and an
# unsigned or capital exponent, which no JSON writer uses) take the slow path.
_E = b"\x1e"
_NUMBER_BYTES = b"0123456789.-"
_EXPONENT_BYTES = _NUMBER_BYTES + b"+" + _E
_NEWLINE_TO_COMMA = bytes.maketrans(b"\n", b",")
# Stand-ins for keys whose JSON holds a number byte or a comma: control bytes, which JSON
# never holds raw (a block holding one is not plain and takes the slow path).
_STAND_INS = [bytes([b]) for b in range(1, 32) if bytes([b]) not in (b"\n", _E)]


class CsvWriter:
    """History CSV (as to_csv writes it) from raw JSONL blocks.  A block whose every line
    is exactly `{"k1":N,"k2":N,...}`, the keys in the writer's order and every value a
    number, is turned into CSV with a few C-level passes over its bytes and no
    parsing; any other block is parsed and written row by row."""

    def __init__(self, line_keys: list[str]):
        """`line_keys`: the keys as the lines hold them (first seen first)."""
        self.columns = order_columns(line_keys)
        self._renames: list[tuple[bytes, bytes]] = []
        tokens = []
        stand_ins = iter(_STAND_INS)
        for key in line_keys:
            token = jsonio.dumps(key)
            if any(b in _EXPONENT_BYTES or b == ord(",") for b in token):
                stand_in = next(stand_ins, None)
                if stand_in is None:  # more such keys than stand-ins: no fast path
                    break
                self._renames.append((token + b":", b'"' + stand_in + b'":'))
                token = b'"' + stand_in + b'"'
            tokens.append(token)
        # The bytes of every line once its numbers are taken out, and the bytes to take out
        # to leave `N,N,...\n` (no key byte is a number byte, a comma or a newline).
        self._skeleton = b"{" + b",".join(t + b":" for t in tokens) + b"}\n"
        self._strip = bytes(sorted(set(self._skeleton) - set(b",\n")))
        order = [line_keys.index(c) for c in self.columns]
        self._order = None if order == list(range(len(order))) else order
        self._fast = bool(line_keys) and len(tokens) == len(line_keys)

    def header(self) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(self.columns)
        return out.getvalue()

    def block_text(self, block: bytes) -> str:
        """The CSV rows of a block of whole JSONL lines."""
        plain = self.plain_rows(block)
        return plain.decode("ascii") if plain is not None else self.parsed_rows(block)

    def plain_rows(self, block: bytes) -> bytes | None:
        """The CSV rows of a block, as ASCII, where every line has the writer's exact shape
        (no parsing); else None."""
        try:
            return self._plain_csv(block) if self._fast else None
        except ValueError:  # a number JSON cannot read (1e400, 00): the lines are parsed
            return None

    def parsed_rows(self, block: bytes) -> str:
        """The CSV rows of a block, its lines parsed (any shape)."""
        from wandb_cli.store.digest import parse_block

        out = io.StringIO()
        write_csv_rows(out, self.columns, parse_block(block)[0])
        return out.getvalue()

    def _plain_csv(self, block: bytes) -> bytes | None:
        """The block's CSV where every line has the writer's exact shape, else None."""
        for token, stand_in in self._renames:
            if stand_in[1:2] in block:
                return None
            block = block.replace(token, stand_in)
        if not self._shaped(block, _NUMBER_BYTES):
            if _E in block or (b"e-" not in block and b"e+" not in block):
                return None
            # No key holds - or + now (stand-ins): "e-" and "e+" are exponents (or inside
            # a string, which fails the shape check); a + anywhere else is not JSON.
            block = block.replace(b"e-", _E + b"-").replace(b"e+", _E + b"+")
            if not self._shaped(block, _EXPONENT_BYTES) or block.count(b"+") != block.count(_E + b"+"):
                return None
        text = block.translate(None, self._strip)  # the values, commas and newlines
        flat = text.translate(_NEWLINE_TO_COMMA)
        if b",," in flat or flat[:1] == b",":  # an empty value: not JSON
            return None
        respell = _E in text or b"0.0000" in text
        if self._order is None and not respell:
            return text
        width = len(self.columns)
        if self._order is None and width >= 3:
            respelt = _respelt_interior(text, width)
            if respelt is not None:
                return respelt
        cells = flat.split(b",")
        cells.pop()  # after the last line's newline
        columns = [cells[i::width] for i in (self._order or range(width))]
        if respell:
            columns = [_respelt(column) for column in columns]
        return b"\n".join(map(b",".join, zip(*columns))) + b"\n"

    def _shaped(self, block: bytes, number_bytes: bytes) -> bool:
        """Whether every line is the skeleton with number bytes between its tokens (the
        block is whole lines: the skeleton ends in a newline)."""
        rest = block.translate(None, number_bytes)
        skeleton = self._skeleton
        return rest == skeleton * (len(rest) // len(skeleton))


def _respelt_interior(text: bytes, width: int) -> bytes | None:
    """`text` (lines of `width` >= 3 cells, in the columns' order) with its cells respelt
    where they need it, in place, without cutting it into rows: split at commas only, a
    line's last cell and the next line's first stay joined across their newline and every
    other column is a plain slice.  None when a first or last cell needs respelling."""
    cells = text.split(b",")
    step = width - 1
    edges = b"\n".join(cells[::step])  # first and last cells (and the newlines between them)
    if _E in edges or b"0.0000" in edges:
        return None
    for i in range(1, step):
        cells[i::step] = _respelt(cells[i::step])
    return b",".join(cells)


def _respelt(column: list[bytes]) -> list[bytes]:
    """A column's cells as str() spells their values, where any cell needs it: the column
    read back as JSON reads it (ints as ints) in one parse, and written with str().  Where
    at most half the cells are distinct, each distinct one is respelt once (a learning rate
    holds one value for thousands of steps)."""
    joined = b"," + b",".join(column)
    if _E not in joined and b",0.0000" not in joined and b",-0.0000" not in joined:
        return column
    distinct = list(dict.fromkeys(column))
    few = 2 * len(distinct) <= len(column)  # else mapping costs more than it saves
    joined = b",".join(distinct if few else column).replace(_E, b"e")
    if jsonio.has_long_digits(joined):  # read as parse_block reads the lines (jsonio's rule)
        values = [jsonio.loads(cell) for cell in joined.split(b",")]
    else:
        values = orjson.loads(b"[" + joined + b"]")
    spelt = "\0".join(map(str, values)).encode().split(b"\0")
    return list(map(dict(zip(distinct, spelt)).__getitem__, column)) if few else spelt


def write_csv(out, columns: list[str], blocks: Iterable[list[dict]]) -> None:
    """CSV of the rows (as to_csv) written block by block to the text stream `out`."""
    csv.writer(out, lineterminator="\n").writerow(columns)
    for rows in blocks:
        write_csv_rows(out, columns, rows)


def write_csv_rows(out, columns: list[str], rows: list[dict]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    if _plain_cells(rows):
        writer.writerows([[row.get(c, "") for c in columns] for row in rows])
    else:
        writer.writerows([["" if row.get(c) is None else _csv_cell(row.get(c)) for c in columns]
                          for row in rows])


def _plain_cells(rows: list[dict]) -> bool:
    """Whether every value is a number or a string (csv writes those as _csv_cell does)."""
    for row in rows:
        for value in row.values():
            kind = type(value)
            if kind is not float and kind is not int and kind is not str:
                return False
    return True
