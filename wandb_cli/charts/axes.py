"""Axes and text for chart renderers: ranges, round-number ticks, tick labels, safe labels.

Invariant: every string this module returns is printable (no control characters, no escape
sequences, no lone surrogates), so it is safe on a terminal and valid in XML; and tick
positions always fall inside the frame's range.  Pure functions, shared by `chart_term`
and `chart_svg` so the terminal and the SVG label their axes alike.
"""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable

from wandb_cli.charts.data import Band, Item, Line, Panel


@dataclass(frozen=True)
class Frame:
    """Axis ranges and ticks of a panel; y positions are in axis space (log10 on a log axis)."""

    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float
    log_y: bool = False
    x_ticks: tuple[tuple[float, str], ...] = ()
    y_ticks: tuple[tuple[float, str], ...] = ()

    def fx(self, x: float) -> float:
        """Where x falls, from 0 (left edge) to 1 (right edge)."""
        return (x - self.x_lo) / (self.x_hi - self.x_lo)

    def fy(self, y: float) -> float:
        """Where y falls, from 0 (bottom) to 1 (top)."""
        if self.log_y:
            y = math.log10(max(y, 1e-300))  # a caller-built panel may still hold y <= 0
        return (y - self.y_lo) / (self.y_hi - self.y_lo)


def frame(panel: Panel, *, x_ticks: int, y_ticks: int, pad: float = 0.0) -> Frame:
    """The panel's axes: data ranges (y widened by `pad` of its span) with about the
    requested number of ticks on each."""
    if panel.empty:
        return Frame(0.0, 1.0, 0.0, 1.0, panel.log_y)
    x_lo, x_hi = _span(v for item in panel.items for v in item.xs[:1] + item.xs[-1:])
    ys = [v for item in panel.items for v in _y_values(item)]
    if panel.log_y:
        ys = [math.log10(v) for v in ys if v > 0] or [0.0]
    y_lo, y_hi = _span(ys)
    y_lo, y_hi = y_lo - pad * (y_hi - y_lo), y_hi + pad * (y_hi - y_lo)
    ticks_y = log_ticks(y_lo, y_hi, y_ticks) if panel.log_y else nice_ticks(y_lo, y_hi, y_ticks)
    return Frame(x_lo, x_hi, y_lo, y_hi, panel.log_y, tuple(nice_ticks(x_lo, x_hi, x_ticks)), tuple(ticks_y))


def _y_values(item: Item) -> list[float]:
    return item.ys if isinstance(item, Line) else item.lo + item.hi


def _span(values: Iterable[float]) -> tuple[float, float]:
    """min and max, pulled apart when equal so that a single value sits mid-axis."""
    values = list(values)
    lo, hi = min(values), max(values)
    if hi > lo:
        return lo, hi
    half = abs(lo) * 0.1 or 0.5
    return lo - half, hi + half


def _nice_step(span: float, target: int) -> float:
    """The round step (1, 2 or 5 times a power of ten) whose tick count is nearest `target`."""
    ratio = span / max(target, 1)
    if not (ratio > 0 and math.isfinite(ratio)):  # a span below float resolution
        return span if span > 0 and math.isfinite(span) else 1.0
    magnitude = 10 ** math.floor(math.log10(ratio))
    return min((m * magnitude for m in (1, 2, 5, 10)), key=lambda step: abs(span / step - target))


def nice_ticks(lo: float, hi: float, target: int) -> list[tuple[float, str]]:
    """Ticks at round values (1, 2 or 5 times a power of ten) inside [lo, hi], labelled."""
    if not hi > lo or target < 1:
        return []
    step = _nice_step(hi - lo, target)
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    return [(k * step, format_number(k * step, step)) for k in range(first, last + 1)]


def log_ticks(lo: float, hi: float, target: int) -> list[tuple[float, str]]:
    """Ticks for a log axis given in log10 space: whole powers of ten where the range spans
    at least one, else round values between; positions stay in log10 space."""
    if not hi > lo:
        return []
    first, last = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
    if last > first:
        every = max(1, math.ceil((last - first + 1) / max(target, 1)))
        # 10.0**e must stay a finite float (the padding around huge values can pass 1e308)
        exps = [e for e in range(max(first, -307), min(last, 308) + 1) if e % every == 0]
        return [(float(e), format_number(10.0**e)) for e in exps]
    if hi > 308:
        return []
    ticks = nice_ticks(10**lo, 10**hi, target)
    return [(math.log10(v), label) for v, label in ticks if v > 0]


_SUFFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def format_number(value: float, step: float | None = None) -> str:
    """A short tick label: 0.25, 1.5k, 2M, 1e-05; `step` (the tick spacing) sets the decimals."""
    if value == 0:
        return "0"
    size = abs(value)
    if size >= 1e15 or size < 1e-4:
        mantissa, exponent = f"{value:.1e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    for scale, suffix in _SUFFIXES:
        if size >= scale:
            return _fixed(value / scale, None if step is None else step / scale) + suffix
    return _fixed(value, step)


def _fixed(value: float, step: float | None) -> str:
    if step is None:
        return f"{value:.4g}"
    decimals = min(8, max(0, -math.floor(math.log10(step) + 1e-9)))  # 8: labels stay short
    return f"{value:.{decimals}f}"


# ---- user text --------------------------------------------------------------------------


def printable(text: Any) -> str:
    """`text` with every non-printable character (controls, escapes, bidi overrides,
    surrogates) written out as a Python escape such as \\x1b, so it shows literally."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for ch in text)


def display_width(text: str) -> int:
    """Terminal columns that printable `text` takes (wide East Asian characters take two)."""
    return sum(_char_width(ch) for ch in text)


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def truncate(text: str, width: int) -> str:
    """Printable `text` cut to `width` columns, ending in an ellipsis when cut."""
    if display_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        if used + _char_width(ch) > width - 1:
            break
        out.append(ch)
        used += _char_width(ch)
    return "".join(out) + "…"


def legend_text(item: Item) -> str:
    """The legend entry of an item: its label, and for a band how many runs it stands for."""
    label = printable(item.label)
    if not item.xs:
        return f"{label} (no data)"
    if isinstance(item, Band):
        return f"{label} (mean of {item.runs} run{'s' * (item.runs != 1)}, min-max band)"
    return label
