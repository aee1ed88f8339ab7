"""Metric definitions (`define_metric`) and the summary they imply.

A run's definitions live in `files/wandb-metrics.json` as a list of objects
`{"name", "step_metric", "step_sync", "summary", "goal", "hidden"}` in definition order; a
name ending in `*` is a glob (prefix match). A key takes the first exact definition, else the
first glob that matches it (W&B's rule).

Summary rules, as W&B applies them: a key with no definition (or a definition without
`summary`) keeps its last value; a definition with `summary="min,max,..."` keeps
`{"min": .., "max": ..}` under the key instead (`last`, `first`, `mean`, `best` by `goal`
too), and `summary="none"` keeps nothing.  `SummaryRules` applies them row by row, so the
live run and a reader replaying the history (a run that ended without `finish()`) get the
same summary.  Pure: no I/O except `read_definitions`.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable

from wandb_cli.store import jsonio

METRICS = "wandb-metrics.json"
SUMMARY_OPS = ("min", "max", "mean", "last", "first", "best", "none", "copy")
GOALS = ("minimize", "maximize")


def read_definitions(files_dir: Path) -> list[dict]:
    """The run's metric definitions ([] when it has none or the file is unreadable)."""
    try:
        found = jsonio.read_json(Path(files_dir) / METRICS, [])
    except (ValueError, OSError):
        return []
    return [d for d in found or [] if isinstance(d, dict) and isinstance(d.get("name"), str)]


def find_definition(definitions: list[dict], key: str) -> dict | None:
    for definition in definitions:
        if definition["name"] == key:
            return definition
    for definition in definitions:
        name = definition["name"]
        if name.endswith("*") and key.startswith(name[:-1]):
            return definition
    return None


def summary_ops(definition: dict | None) -> list[str]:
    """The summary operations a definition asks for ([] = keep the last value as is)."""
    if not definition or not definition.get("summary"):
        return []
    return [op.strip().lower() for op in str(definition["summary"]).split(",") if op.strip()]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if isinstance(value, float) and math.isnan(value) else float(value)


class SummaryRules:
    """Folds history rows into a summary under a run's definitions."""

    def __init__(self, definitions: list[dict] | None = None):
        self.definitions: list[dict] = list(definitions or [])
        self._means: dict[str, tuple[float, int]] = {}

    def update(self, summary: dict, row: dict) -> list[str]:
        """Apply one row's values to `summary` in place; returns the keys changed."""
        changed = []
        for key, value in row.items():
            if key.startswith("_"):
                continue
            ops = summary_ops(find_definition(self.definitions, key)) if self.definitions else []
            if not ops or ops == ["copy"]:
                summary[key] = value
            elif "none" in ops:
                continue
            else:
                summary[key] = self._aggregate(key, ops, summary.get(key), value)
            changed.append(key)
        return changed

    def _aggregate(self, key: str, ops: list[str], current: Any, value: Any) -> dict:
        agg = dict(current) if isinstance(current, dict) else {}
        number = _number(value)
        for op in ops:
            if op == "last":
                agg["last"] = value
            elif op == "first":
                agg.setdefault("first", value)
            elif number is None:
                continue
            elif op in ("min", "max"):
                old = _number(agg.get(op))
                agg[op] = number if old is None else (min if op == "min" else max)(old, number)
            elif op == "mean":
                total, count = self._means.get(key, (0.0, 0))
                self._means[key] = (total + number, count + 1)
                agg["mean"] = (total + number) / (count + 1)
            elif op == "best":
                agg["best"] = self._best(key, agg.get("best"), number)
        return agg

    def _best(self, key: str, old: Any, number: float) -> float:
        definition = find_definition(self.definitions, key) or {}
        pick = max if definition.get("goal") == "maximize" else min
        old_number = _number(old)
        return number if old_number is None else pick(old_number, number)


def implied_summary(rows: Iterable[dict], definitions: list[dict], base: dict | None = None) -> dict:
    """The summary a history implies: `base` (what was saved) updated with every row.

    Keys set only through `run.summary[...] = ...` keep their saved value; a logged key
    takes the value its history gives it (a saved value may be up to a flush behind)."""
    summary = dict(base or {})
    logged: dict = {}
    rules = SummaryRules(definitions)
    for row in rows:
        rules.update(logged, row)
    summary.update(logged)
    return summary


def step_metric_of(definitions: list[dict], key: str) -> str | None:
    """The x axis a key's definition chooses for its charts (None: `_step`)."""
    definition = find_definition(definitions, key)
    return definition.get("step_metric") if definition else None
