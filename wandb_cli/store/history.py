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

from wandb_cli.store import jsonio
from wandb_cli.store.layout import EVENTS, HISTORY, RunPaths


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
    special = [k for k in ("_step", "_runtime", "_timestamp") if k in seen]
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


# A JSON number as orjson or json writes it, whose text is what str() gives for the value
# it reads back as: digits, a sign and a point (an exponent, NaN or Infinity are left to
# the slow path), except below 1e-4, which JSON writers spell 0.00001 and Python 1e-05:
# a block holding ":0.0000" takes the slow path too.
_PLAIN_NUMBER = rb"(-?[0-9.]+)"
_TINY = (b":0.0000", b":-0.0000")


class CsvWriter:
    """History CSV (as to_csv writes it) from raw JSONL blocks.  A block whose every line
    holds exactly the columns, in order, as plain numbers is turned into CSV by one regex
    substitution, without parsing; any other block is parsed and written row by row."""

    def __init__(self, line_keys: list[str]):
        """`line_keys`: the keys as the lines hold them (first seen first)."""
        import re

        columns = order_columns(line_keys)
        self.columns = columns
        keys = b",".join(jsonio.dumps(key) + b":" + _PLAIN_NUMBER for key in line_keys)
        self._line = re.compile(rb"^\{" + keys + rb"\}$", re.MULTILINE)
        groups = {key: i + 1 for i, key in enumerate(line_keys)}
        self._template = ",".join(f"\\{groups[key]}" for key in columns).encode()

    def header(self) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(self.columns)
        return out.getvalue()

    def block_text(self, block: bytes) -> str:
        """The CSV rows of a block of whole JSONL lines."""
        from wandb_cli.store.digest import parse_block

        if self.columns and len(self.columns) < 100 and not any(t in block for t in _TINY):
            text, done = self._line.subn(self._template, block)
            if done == block.count(b"\n"):
                return text.decode("ascii")
        out = io.StringIO()
        write_csv_rows(out, self.columns, parse_block(block)[0])
        return out.getvalue()


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
