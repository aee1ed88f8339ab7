"""Leaf text helpers for every wing: safe text, value/time/size/duration formats, widths and cropping, sparklines.

Safe text: control, format and bidi characters become visible escapes.

Invariant: what `printable()` returns contains no character a terminal acts on (no ESC, no
CR/LF unless allowed, no bidi overrides, no lone surrogates), so names, tags, notes, keys and
values are always shown literally.  Rich markup is a separate concern: render.py passes text
to Rich as `Text`, never as markup.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
import time
import unicodedata
from typing import Any, Iterable

from wandb_cli.errors import UsageError

CROP_MODES = ("start", "middle", "end")
ELLIPSIS = "…"

_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]"
)
_UNSAFE_WITH_NEWLINES = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogates(text: str) -> bool:
    """Whether `text` holds a lone surrogate (an undecodable byte kept by surrogateescape)."""
    return _SURROGATE.search(text) is not None


def replace_surrogates(text: str) -> str:
    """`text` with each lone surrogate as U+FFFD, for what cannot take one (RE2, JSON for a
    browser)."""
    return _SURROGATE.sub("\ufffd", text)


def _escape(match: re.Match) -> str:
    ch = match.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, *, keep_newlines: bool = False) -> str:
    """`text` as a string with every terminal-active character escaped."""
    value = text if isinstance(text, str) else str(text)
    if value.isprintable():  # no control, format, separator or surrogate character: all
        return value         # that the patterns escape (a table calls this for every cell)
    pattern = _UNSAFE if keep_newlines else _UNSAFE_WITH_NEWLINES
    return pattern.sub(_escape, value)


def all_printable(texts: list[str]) -> list[str]:
    """`printable` of each text; the list itself when one C-level check finds nothing to
    escape in any (the usual case)."""
    if "".join(texts).isprintable():
        return texts
    return [printable(text) for text in texts]


# CSI, OSC, then any other escape (intermediates, then one final byte: charset switches such
# as ESC ( 0, ESC c which resets the terminal); then what no sequence explains: a lone ESC,
# and the C1 controls as UTF-8 (U+009B is CSI to some terminals).
_ANSI = re.compile(
    rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[ -/]*[0-~])|\x1b|\xc2[\x80-\x9f]")
_SGR = re.compile(rb"\x1b\[[0-9;]*m")


def strip_ansi(data: bytes) -> bytes:
    return _ANSI.sub(b"", data)


def terminal_safe_output(data: bytes, *, keep_colors: bool) -> bytes:
    """Program output to show again: colours kept if asked, every other escape removed."""
    if not keep_colors:
        return strip_ansi(data)
    kept: list[bytes] = []

    def keep_sgr(match: re.Match) -> bytes:
        if _SGR.fullmatch(match.group(0)):
            kept.append(match.group(0))
            return match.group(0)
        return b""

    return _ANSI.sub(keep_sgr, data)


SPARK_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 20) -> str:
    """A Unicode sparkline of finite numbers, averaged into at most `width` buckets."""

    finite = [float(v) for v in values
              if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    if not finite:
        return ""
    if len(finite) > width:
        size = len(finite) / width
        finite = [sum(chunk) / len(chunk) for chunk in
                  (finite[int(i * size):max(int((i + 1) * size), int(i * size) + 1)] for i in range(width))]
    low, high = min(finite), max(finite)
    span = high - low
    if span == 0:
        return SPARK_BARS[3] * len(finite)
    return "".join(SPARK_BARS[min(7, int((v - low) / span * 7.999))] for v in finite)


# -- formatting values ---------------------------------------------------------------------
def fmt_time(ts: float | None) -> str:
    """Local time to the second, as a table shows it."""
    if ts is None:
        return ""
    return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def fmt_times(stamps: Iterable[float | None]) -> list[str]:
    """`fmt_time` of each, with each UTC day's local offset found once: a time is then its
    whole seconds (rounded as datetime rounds: to the nearest microsecond, ties to even) plus
    that offset, its hour's text made once and its minute and second looked up (20,000
    runs' start times: ~60 -> ~17 ms here), where local time runs on evenly through the
    day.  Any other time (before 1970, past 5138, not a number, in a day that holds a change
    of offset or a leap second as TZ=right/... counts them) is spelt by fmt_time."""
    offsets: dict[int, int | None] = {}
    hours: dict[int, str] = {}  # local hour -> its text ("YYYY-MM-DD HH:")
    dates: dict[int, str] = {}  # local day -> its text
    out = []
    for ts in stamps:
        if type(ts) is float and 0.0 <= ts < 1e11:
            seconds = int(ts)
            if ts - seconds > 0.999999:  # (may round up to the next second)
                fraction, whole = math.modf(ts)
                seconds = int(whole) + (round(fraction * 1e6) == 1_000_000)
        elif type(ts) is int and 0 <= ts < 10 ** 11:
            seconds = ts
        else:
            out.append(fmt_time(ts))
            continue
        day = seconds // 86400
        offset = offsets.get(day, False)
        if offset is False:
            offset = offsets[day] = _even_offset(day * 86400)
        if offset is None:
            out.append(fmt_time(ts))
            continue
        local = seconds + offset
        hour = local // 3600
        prefix = hours.get(hour)
        if prefix is None:
            date = dates.get(hour // 24)
            if date is None:
                date = dates[hour // 24] = _dt.date.fromordinal(_EPOCH_ORDINAL + hour // 24).isoformat()
            prefix = hours[hour] = f"{date} {_HOURS[hour % 24]}"
        out.append(prefix + _MINUTES_SECONDS[local % 3600])
    return out


_HOURS = [f"{h:02d}:" for h in range(24)]
_MINUTES_SECONDS = [f"{m:02d}:{s:02d}" for m in range(60) for s in range(60)]
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()


def _even_offset(start: int) -> int | None:
    """The UTC offset (seconds) of local time through the UTC day from `start`, where local
    time at its first and last second is that second plus the offset (no change of offset
    nor a leap second counted between them); else None.  (Two changes of offset within one
    day, back to the first, are taken to be none: no zone has had them.)"""
    first, last = time.localtime(start), time.localtime(start + 86399)
    offset = first.tm_gmtoff
    if not _is_local(first, start + offset) or not _is_local(last, start + 86399 + offset):
        return None
    return offset


def _is_local(moment: time.struct_time, local: int) -> bool:
    """Whether `moment` spells `local` (seconds since 1970-01-01 00:00 in local time)."""
    day, second = divmod(local, 86400)
    return moment.tm_hour * 3600 + moment.tm_min * 60 + moment.tm_sec == second and \
        _dt.date(moment.tm_year, moment.tm_mon, moment.tm_mday).toordinal() == _EPOCH_ORDINAL + day


def fmt_size(size: float) -> str:
    """Bytes as B, KiB, MiB, GiB or TiB, three significant figures (1000-1023 as integers)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            if unit == "B":
                return f"{size} B"
            return f"{size:.3g} {unit}" if size < 1000 else f"{size:.0f} {unit}"
        size /= 1024
    raise AssertionError("not reached")


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


NUMBER_TYPES = frozenset({int, float})  # what counts as a number (a bool does not)


def is_number(value: Any) -> bool:
    return type(value) in NUMBER_TYPES


def finite_sum(numbers: Iterable[float]) -> float | None:
    """The exact sum (`math.fsum`, C-level) of `numbers`, None where it is not finite: a NaN
    or an infinity among them (inf with -inf included), or a sum past the float limit."""
    try:
        total = math.fsum(numbers)
    except (OverflowError, ValueError):  # past the float limit; inf + -inf
        return None
    return total if math.isfinite(total) else None


# -- widths and cropping -------------------------------------------------------------------
def widest(texts: list[str]) -> int:
    """The most cells any of `texts` takes (0 for none); one C-level pass when all are
    ASCII (a table's columns of 20,000 cells, the usual case)."""
    if "".join(texts).isascii():
        return max(map(len, texts), default=0)
    return max(map(cell_width, texts), default=0)


def cell_width(text: str) -> int:
    """Terminal cells `text` takes: wide East Asian characters 2, combining marks 0."""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(ch) else
               2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _take(text: str, width: int, *, from_end: bool = False) -> str:
    """The longest head (or tail) of `text` that fits `width` cells."""
    chars = reversed(text) if from_end else iter(text)
    taken, used = [], 0
    for ch in chars:
        used += cell_width(ch)
        if used > width:
            break
        taken.append(ch)
    return "".join(reversed(taken) if from_end else taken)


def crop(text: str, width: int, mode: str = "middle") -> str:
    """`text` cut to `width` cells with … where the cut was: at the start, middle or end."""
    if cell_width(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    room = width - 1
    if mode == "start":
        return ELLIPSIS + _take(text, room, from_end=True)
    if mode == "end":
        return _take(text, room) + ELLIPSIS
    head = _take(text, (room + 1) // 2)
    return head + ELLIPSIS + _take(text, room - cell_width(head), from_end=True)


def check_crop(mode: str) -> str:
    if mode not in CROP_MODES:
        raise UsageError(f"bad --crop {mode!r}: choose {', '.join(CROP_MODES)}")
    return mode
