"""Turning a program's terminal output into output.log lines and metric steps.

output.log holds the program's text with carriage-return redraws (progress bars) collapsed
to their last state: of each line, only what follows its last carriage return is kept.

The metric rule (documented in the README): a line, with colour codes removed, that consists
only of one or more `key=value` or `key: value` pairs, separated by commas and/or spaces,
where every value is a number (int, float, scientific, nan, inf), becomes one history step.
Keys start with a letter or underscore and may contain letters, digits, `_ . / -`.
Anything else on the line (words, units, brackets) means it is not a metric line.
"""
from __future__ import annotations

import re
from itertools import islice, repeat
from operator import add, itemgetter

import orjson

from wandb_cli.errors import StoreError
from wandb_cli.nogc import no_cycle_collection
from wandb_cli.store.jsonio import may_exceed_int64
from wandb_cli.textfmt import strip_ansi

_KEY = r"[A-Za-z_][\w./\-]*"
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?"
                     r"|nan|inf|infinity)", re.IGNORECASE)
# Each pattern is matched anchored at one position and cannot backtrack far: one regex for the
# whole line backtracked quadratically over long runs of blanks, stalling the output pump.
_LEAD = re.compile(r"\s*")
_KEY_SEP = re.compile(rf"({_KEY})\s*[=:]\s*")
_VALUE = re.compile(r"[^\s,]*")  # a number ends where blanks or a comma begin
_GAP = re.compile(r"\s*,?\s*")
MAX_PARTIAL = 64 * 1024


def parse_metrics(line: bytes) -> dict | None:
    """The metrics on a metric line (see the module docstring), else None."""
    if b"=" not in line and b":" not in line:
        return None
    text = strip_ansi(line).decode("utf-8", "replace")
    metrics: dict[str, float | int] = {}
    lead = _LEAD.match(text)
    assert lead is not None  # _LEAD, _VALUE and _GAP all match the empty string
    pos = lead.end()
    while True:
        head = _KEY_SEP.match(text, pos)
        if head is None:
            return None
        value = _VALUE.match(text, head.end())
        assert value is not None
        if _NUMBER.fullmatch(value.group()) is None:
            return None
        metrics[head.group(1)] = _number(value.group())
        gap = _GAP.match(text, value.end())
        assert gap is not None
        pos = gap.end()
        if pos == len(text):
            return metrics


def _number(raw: str) -> float | int:
    try:
        return int(raw)
    except ValueError:
        return float(raw)


def collapse(line: bytes) -> bytes:
    """The last state of a line redrawn with carriage returns."""
    if line.endswith(b"\r"):
        line = line.rstrip(b"\r")
    if b"\r" not in line:
        return line
    for part in reversed(line.split(b"\r")):
        if part:
            return part
    return b""


class LineSplitter:
    """Cuts one stream of output into complete lines; keeps the unfinished tail."""

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, data: bytes) -> list[bytes]:
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_PARTIAL:  # a huge unterminated line: keep memory bounded
            lines.append(self._partial)
            self._partial = b""
        return lines

    def flush(self) -> list[bytes]:
        rest, self._partial = self._partial, b""
        return [rest] if rest else []


def collapse_block(block: bytes) -> bytes:
    """`collapse` applied to every line of a block of whole lines, in bulk: only lines that
    hold a carriage return cost Python work (in a terminal every line ends in CR LF).
    Linear in the block's length, however long its lines (no regex scans a line twice)."""
    if b"\r" not in block:
        return block
    block = block.replace(b"\r\n", b"\n")
    cr = block.find(b"\r")
    if cr < 0:
        return block
    parts, done = [], 0
    while cr >= 0:
        start = block.rfind(b"\n", done, cr) + 1 or done
        end = block.find(b"\n", cr)
        end = len(block) if end < 0 else end
        parts.append(block[done:start])
        parts.append(collapse(block[start:end]))
        done = end
        cr = block.find(b"\r", end)
    parts.append(block[done:])
    return b"".join(parts)


_BLANK = rb"[ \t\v\f]*+"
_BKEY = rb"[A-Za-z_][A-Za-z0-9_./\-]*+"
_BNUMBER = (rb"[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?"
            rb"|(?i:nan|inf|infinity))(?![^\s,])")
# One pass over a block finds every line parse_metrics could accept.  `fast`: a plain-ASCII
# metric line, read here (possessive quantifiers: no backtracking, whatever the blanks);
# else a candidate (a key then = or :, or escapes or non-ASCII bytes before the first = or :),
# which parse_metrics judges.  The candidates are a superset, so nothing is missed.
_PLAIN_LINE = (_BLANK + rb"(?:" + _BKEY + _BLANK + rb"[=:]" + _BLANK + _BNUMBER + _BLANK + rb",?+"
               + _BLANK + rb")++")
_PLAIN_BLOCK = re.compile(rb"(?:" + _PLAIN_LINE + rb"\n)*+")
_METRIC_LINE = re.compile(
    rb"^((?P<fast>" + _PLAIN_LINE + rb"$)"
    rb"|(?:[ \t\v\f]*+[A-Za-z_][\w./\-]*+[ \t\v\f]*+[=:]"
    rb"|[^\n=:\x1b\x1c-\x1f\x80-\xff]*+[\x1b\x1c-\x1f\x80-\xff][^\n=:]*+[=:])[^\n]*)",
    re.MULTILINE)
_SECOND = itemgetter(1)
_SEPARATORS_TO_BLANK = bytes.maketrans(b"=:,", b"   ")
_FAST_PAIR = re.compile(rb"(" + _BKEY + rb")" + _BLANK + rb"[=:]" + _BLANK + rb"([^\s,]+)")


def metric_lines(block: bytes) -> list[dict]:
    """The metrics of each metric line of a block of collapsed lines, in order."""
    if b"=" not in block and b":" not in block:
        return []
    if _PLAIN_BLOCK.fullmatch(block):  # every line a plain metric line: half findall's cost
        return _read_plain(block.split(b"\n")[:-1])
    matches = _METRIC_LINE.findall(block)  # (the line, the line again if a plain one, else b"")
    plain = list(map(_SECOND, matches))
    if b"" not in plain:  # the common case: every candidate is a plain metric line
        return _read_plain(plain)
    read = iter(_read_plain([line for line in plain if line]))
    found: list[dict] = []
    for line, is_plain in matches:
        metrics = next(read) if is_plain else parse_metrics(line)
        if metrics:
            found.append(metrics)
    return found


def _read_plain(lines: list[bytes]) -> list[dict]:
    """The metrics of plain metric lines (the `fast` alternative), read in bulk: the keys
    and values of all lines at once (the values by one JSON parse where all are JSON
    numbers, which JSON reads as int() or float() does), then one dict per line."""
    # Keys and numbers hold no blank, comma, = or :, and a number is followed by a blank, a
    # comma or the end: split at those, a plain line is key, number, key, number...; and it
    # has as many pairs as = and : (which keys and numbers never hold).
    text = b" ".join(lines)
    tokens = text.translate(_SEPARATORS_TO_BLANK).split()
    counts = list(map(bytes.count, lines, repeat(b"=")))
    if b":" in text:
        counts = list(map(add, counts, map(bytes.count, lines, repeat(b":"))))
    if len(tokens) != 2 * sum(counts):  # cannot happen (see above): read line by line
        return [{key.decode(): _number(raw.decode()) for key, raw in _FAST_PAIR.findall(line)}
                for line in lines]
    raws = tokens[1::2]
    joined = b",".join(raws)
    values = None
    if not may_exceed_int64(joined):  # orjson reads such an integer as a float
        try:
            values = orjson.loads(b"[" + joined + b"]")
        except orjson.JSONDecodeError:  # nan, inf, +3, .5, 1., 007: read one by one
            pass
    if values is None or len(values) != len(raws):
        values = [_number(raw.decode()) for raw in raws]
    key_tokens = tokens[0::2]
    names = {key: key.decode("ascii") for key in set(key_tokens)}  # one str for each key
    items = zip(map(names.__getitem__, key_tokens), values)
    width = counts[0] if counts else 0
    if width and counts.count(width) == len(counts):  # as many pairs a line
        line_keys = key_tokens[:width]
        if all(key_tokens[i::width].count(key) == len(lines) for i, key in enumerate(line_keys)):
            # and the same keys in the same order (the usual case): values grouped in C
            keys = tuple(map(names.__getitem__, line_keys))
            return list(map(dict, map(zip, repeat(keys), zip(*[iter(values)] * width))))
        return list(map(dict, zip(*[items] * width)))
    return [dict(islice(items, count)) for count in counts]


class OutputRecorder:
    """Writes the program's output to output.log with redraws collapsed, and hands metric
    lines on, in blocks: one write and one metrics batch per chunk read, never per line.

    output.log receives exactly the collapsed text: no newline is ever added, except one
    after an unterminated last line when the stream ends.  A line longer than MAX_PARTIAL
    is written as it comes (so memory stays bounded), continued by the next writes; a
    redraw inside such a line keeps what was already written.  A failed write (a full disk)
    is reported once and never stops the program's output.
    """

    def __init__(self, log_file, on_metrics=None, warn=None):
        self._log = log_file
        self._on_metrics = on_metrics  # called with a list of metric dicts
        self._warn = warn
        self._failed = False

    def stream(self) -> OutputStream:
        """A reader of one of the program's streams (stdout, stderr or the terminal)."""
        return OutputStream(self)

    def lines(self, lines: list[bytes]) -> None:
        """Whole lines (without their newlines), for callers that split themselves."""
        if lines:
            self.record(b"\n".join(lines) + b"\n", skip_first=False)

    def record(self, block: bytes, *, skip_first: bool) -> None:
        """A block of whole lines; `skip_first` when its first line continues a long line
        already written (it is no metric line)."""
        block = collapse_block(block)
        self.write(block)
        if self._on_metrics is not None:
            if skip_first:
                block = block[block.find(b"\n") + 1:]
            with no_cycle_collection():  # a dict per line, no cycles: the collector's
                found = metric_lines(block)  # passes over them cost a third of the time
                if found:
                    self._on_metrics(found)

    def write(self, data: bytes) -> None:
        if self._log is None or self._failed or not data:
            return
        try:
            self._log.write_bytes(data)
        except StoreError as exc:
            self._failed = True
            if self._warn:
                self._warn(f"{exc.render()}; the output is no longer recorded")


class OutputStream:
    """One stream's unfinished last line, between the chunks the pump reads."""

    def __init__(self, recorder: OutputRecorder):
        self._recorder = recorder
        self._partial = b""
        self._mid_line = False  # part of the current line is already in output.log

    def feed(self, data: bytes) -> None:
        if self._partial:
            data = self._partial + data
        cut = data.rfind(b"\n") + 1
        if cut:
            self._recorder.record(data[:cut] if cut < len(data) else data,
                                  skip_first=self._mid_line)
            self._mid_line = False
            data = data[cut:]
        self._partial = data
        if len(data) > MAX_PARTIAL:
            self._write_long_line()

    def _write_long_line(self) -> None:
        data = self._partial
        keep = len(data) - 1 if data.endswith(b"\r") else len(data)  # CR LF may be split
        self._partial = data[keep:]
        head = data[:keep]
        if b"\r" in head:
            head = collapse(head)
        self._recorder.write(head)
        self._mid_line = True

    def close(self) -> None:
        """The stream ended: its unterminated last line is recorded, newline added."""
        rest, self._partial = self._partial, b""
        if rest or self._mid_line:
            self._recorder.record(rest + b"\n", skip_first=self._mid_line)
        self._mid_line = False
