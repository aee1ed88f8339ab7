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

from wandb_cli.errors import StoreError
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


class OutputRecorder:
    """Writes collapsed lines to output.log and hands metric lines on.

    A failed write (a full disk) is reported once and never stops the program's output.
    """

    def __init__(self, log_file, on_metrics=None, warn=None):
        self._log = log_file
        self._on_metrics = on_metrics
        self._warn = warn
        self._failed = False

    def lines(self, lines: list[bytes]) -> None:
        if not lines:
            return
        collapsed = [collapse(line) for line in lines]
        if self._log is not None and not self._failed:
            try:
                self._log.write_line(b"\n".join(collapsed))
            except StoreError as exc:
                self._failed = True
                if self._warn:
                    self._warn(f"{exc.render()}; the output is no longer recorded")
        if self._on_metrics is not None:
            for line in collapsed:
                metrics = parse_metrics(line)
                if metrics:
                    self._on_metrics(metrics)
