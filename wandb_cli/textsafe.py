"""Making user text safe to show: control, format and bidi characters become visible escapes.

Invariant: what `printable()` returns contains no character a terminal acts on (no ESC, no
CR/LF unless allowed, no bidi overrides, no lone surrogates), so names, tags, notes, keys and
values are always shown literally.  Rich markup is a separate concern: render.py passes text
to Rich as `Text`, never as markup.
"""
from __future__ import annotations

import re

_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]"
)
_UNSAFE_WITH_NEWLINES = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match) -> str:
    ch = match.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, *, keep_newlines: bool = False) -> str:
    """`text` as a string with every terminal-active character escaped."""
    value = text if isinstance(text, str) else str(text)
    pattern = _UNSAFE if keep_newlines else _UNSAFE_WITH_NEWLINES
    return pattern.sub(_escape, value)


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
    import math

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
