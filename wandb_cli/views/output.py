"""Plain output for every command and the web API's downloads: JSON, CSV and table text.

Invariant: JSON is faithful (NaN and ±Infinity written as such, never as null); text for a
terminal is made `printable()` (control and escape characters in the data shown escaped),
while text for a pipe is exact.  No Rich here.
"""
from __future__ import annotations

import operator
import os
import sys
from itertools import chain, compress, repeat
from typing import BinaryIO, Iterator

from wandb_cli import nogc


def warn_left_out(problems: list[str]) -> None:
    """One stderr line for each document a listing could not read and went on without."""
    from wandb_cli.textfmt import printable

    for problem in problems:
        print(f"wbrun: warning: {printable(problem)}; left out", file=sys.stderr)


def print_json(value, *, lines: bool = False, finite: bool = False) -> None:
    """`finite`: the caller knows `value` holds no NaN or infinity (run records read from the
    index's columns: RunRecord.finite), so it is not walked to look for them."""
    from wandb_cli.store import jsonio

    if lines:
        out = b"".join(jsonio.dumps(item) + b"\n" for item in value)
    else:
        import orjson

        try:
            out = orjson.dumps(value, option=jsonio.PRETTY)
        except TypeError:
            out = b""
        # orjson writes NaN as null: where a float could be non-finite, write the faithful form
        if not out or (b"null" in out and not finite and may_hold_nonfinite(value)):
            out = jsonio.dumps(value)
    write_output(out, newline=not lines)


def write_output(out: bytes | bytearray, *, newline: bool) -> None:
    """A command's whole output, then a newline if asked (apart: `out + b"\n"` would copy the
    whole output, 28 MB for 28,000 runs); the program may end once it is written."""
    sys.stdout.buffer.write(out)
    if newline:
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()
    nogc.output_written()


def may_hold_nonfinite(value) -> bool:
    """Run records keep their floats in config and summary: look only there (a walk of whole
    records cost ~0.3 s at 100,000 runs); anything else is walked whole."""
    from wandb_cli.store.jsonio import has_nonfinite

    if isinstance(value, list) and all(isinstance(item, dict) and "summary" in item for item in value):
        mappings = [item.get(scope) for item in value for scope in ("summary", "config")]
        if all(type(mapping) is dict for mapping in mappings):
            return has_nonfinite_in(mappings)
        return any(map(has_nonfinite, mappings))
    return has_nonfinite(value)


def has_nonfinite_in(mappings: list[dict]) -> bool:
    """`has_nonfinite` over the dicts' values, with C-level passes (and no list of them all)
    where each is a plain float, str, int, bool or None (28,000 records' flat summaries and
    configs: ~0.25 s of walking)."""
    from wandb_cli.store.jsonio import has_nonfinite
    from wandb_cli.textfmt import finite_sum

    def values() -> Iterator:
        return chain.from_iterable(map(dict.values, mappings))

    if set(map(type, values())) <= _FLAT:
        floats = compress(values(), map(operator.is_, map(type, values()), repeat(float)))
        if finite_sum(floats) is not None:
            return False
    return any(map(has_nonfinite, mappings))  # (a sum not finite: the walk tells why)


_FLAT = frozenset({float, str, int, bool, type(None)})


def stdout_is_tty() -> bool:
    try:
        return os.isatty(1)
    except (OSError, ValueError):
        return False


def ascii_bytes_stream(stream) -> BinaryIO | None:
    """The binary stream beneath a text stream whose encoding writes ASCII text as its own
    bytes (UTF-8, ASCII, Latin-1), where ASCII bytes may go directly; else None (a StringIO,
    UTF-16)."""
    import codecs

    buffer = getattr(stream, "buffer", None)
    try:
        as_is = codecs.lookup(getattr(stream, "encoding", None) or "").name in _ASCII_AS_IS
    except LookupError:
        return None
    return buffer if as_is else None


_ASCII_AS_IS = frozenset({"utf-8", "ascii", "iso8859-1"})


def write_table_text(text: str) -> None:
    """CSV (and other plain tables) to stdout: exact when piped; on a terminal, control and
    escape characters in the data are shown escaped instead of acting on the terminal."""
    if stdout_is_tty():
        from wandb_cli.textfmt import printable

        text = printable(text, keep_newlines=True)
    sys.stdout.write(text)
    nogc.output_written()


def table_width() -> int | None:
    """$COLUMNS, else the terminal's width; None (no limit) when stdout is not a terminal."""
    import shutil

    try:
        width = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        width = 0
    if width > 0:
        return width
    return shutil.get_terminal_size().columns if stdout_is_tty() else None


def describe_reference(value: object) -> object:
    """A short text for a W&B reference object (for tables: never the whole histogram);
    any other value is returned as it is."""
    if not isinstance(value, dict) or not isinstance(value.get("_type"), str):
        return value
    kind = value["_type"]
    if kind == "histogram":
        bins = value.get("bins") or []
        span = f" {bins[0]:.4g}..{bins[-1]:.4g}" if bins and all(
            isinstance(b, (int, float)) for b in (bins[0], bins[-1])) else ""
        return f"histogram {len(value.get('values') or [])} bins{span}"
    if kind == "images/separated":
        return f"{value.get('count')} images {value.get('width')}x{value.get('height')}"
    size = f" {value['width']}x{value['height']}" if "width" in value and "height" in value else ""
    rows = f" {value['nrows']}x{value['ncols']}" if "nrows" in value and "ncols" in value else ""
    return f"{kind} {value.get('path', '')}{size}{rows}".strip()
