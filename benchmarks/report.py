"""Result rows and the table they print as.

Invariant: a row's figure and every figure it is compared with were measured in the same
invocation; a row with a target says pass or FAIL, a row without one says so ("info"), and
a row whose figure could not be measured says "skipped" with the reason, never a number.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    suite: str
    label: str
    value: float | None
    unit: str  # "s", "steps/s", "B/step", "MB", "%", "x"
    compare: list[tuple[str, float | None, str]] = field(default_factory=list)
    target: str = ""
    ok: bool | None = None
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "skipped"
        if self.ok is None:
            return "info"
        return "pass" if self.ok else "FAIL"

    def as_json(self) -> dict:
        return {"suite": self.suite, "label": self.label, "value": self.value,
                "unit": self.unit, "compare": [list(c) for c in self.compare],
                "target": self.target, "verdict": self.verdict, "detail": self.detail,
                "data": self.data}


def at_most(value: float | None, bound: float) -> bool | None:
    return None if value is None else value <= bound


def at_least(value: float | None, bound: float) -> bool | None:
    return None if value is None else value >= bound


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def fmt(value: float | None, unit: str) -> str:
    """A figure for people: seconds in ms below one second, rates with thousands commas."""
    if value is None:
        return "n/a"
    if unit == "s":
        if abs(value) < 0.01:
            return f"{value * 1000:.2f} ms"
        return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.2f} s"
    if unit == "steps/s":
        return f"{value:,.0f} steps/s"
    if unit == "B/step":
        return f"{value:.0f} B/step"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "%":
        return f"{value:.2f} % of a core"
    if unit == "MB/s":
        return f"{value:.1f} MB/s"
    if unit == "x":
        return f"{value:.1f}x"
    return f"{value:g} {unit}"


def markdown_table(rows: list[Row]) -> str:
    """One Markdown table (it also reads well in a terminal)."""
    lines = ["| suite | workload | wbrun | baselines and peers, same run | target | result |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        others = "; ".join(f"{name}: {fmt(value, unit)}" for name, value, unit in row.compare)
        target = f"{row.target} ({row.detail})" if row.target and row.detail else (row.target or row.detail)
        lines.append(f"| {row.suite} | {row.label} | {fmt(row.value, row.unit)} | "
                     f"{others or '-'} | {target or '-'} | {row.verdict} |")
    return "\n".join(lines)


def summary_line(rows: list[Row]) -> str:
    judged = [r for r in rows if r.verdict in ("pass", "FAIL")]
    failed = [r.label for r in judged if r.verdict == "FAIL"]
    text = f"{len(judged) - len(failed)} of {len(judged)} targets pass"
    return text + (f"; failing: {', '.join(failed)}" if failed else "")
