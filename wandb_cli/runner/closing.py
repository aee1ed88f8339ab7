"""W&B's closing block, printed on stderr when a wrapped run ends (plain text, no Rich).

Every key and value is passed through `printable()`, so metric names from a program's
output can never put an escape sequence on the user's terminal.
"""
from __future__ import annotations

import math
import os

from wandb_cli.store import jsonio
from wandb_cli.store.layout import HISTORY, OUTPUT, RUN_DOC, SUMMARY
from wandb_cli.textfmt import printable, sparkline

MAX_KEYS = 30


def _numeric(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def history_series(path) -> dict[str, list[float]]:
    series: dict[str, list[float]] = {}
    for row in jsonio.iter_jsonl(path):
        for key, value in row.items():
            if not key.startswith("_") and _numeric(value):
                series.setdefault(key, []).append(value)
    return series


def format_value(value) -> str:
    if isinstance(value, float):
        if math.isfinite(value):
            return f"{value:.5g}"
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return printable(value if isinstance(value, str) else jsonio.dumps(value).decode())


def _aligned(rows: list[tuple[str, str]]) -> list[str]:
    width = max(len(k) for k, _ in rows)
    return [f"wbrun:   {k:>{width}} {v}" for k, v in rows]


def closing_block(live, state: str) -> str:
    series = history_series(live.paths.file(HISTORY))
    try:  # the file, not our memory: the program's SDK may have written the summary
        summary = jsonio.read_json(live.paths.file(SUMMARY), {}) or {}
    except ValueError:
        summary = dict(live._summary)
    lines = ["wbrun:"]
    if series:
        keys = sorted(series)[:MAX_KEYS]
        lines += ["wbrun: Run history:", *_aligned([(printable(k), sparkline(series[k])) for k in keys]),
                  "wbrun:"]
    # as W&B's closing block: numbers and text only (a histogram, an image or a table is a
    # dict of thousands of characters; `runs show` has it)
    summary = {key: value for key, value in summary.items() if isinstance(value, (int, float, str))
               and not key.startswith("_")}
    if summary:
        keys = sorted(summary)[:MAX_KEYS]
        lines += ["wbrun: Run summary:", *_aligned([(printable(k), format_value(summary[k])) for k in keys]),
                  "wbrun:"]
    try:  # re-read: the program's SDK may have named the run or its project
        doc = jsonio.read_json(live.paths.file(RUN_DOC), None) or live.doc
    except ValueError:
        doc = live.doc
    rel = os.path.relpath(live.paths.dir) if _is_below_cwd(live.paths.dir) else str(live.paths.dir)
    lines += [
        f"wbrun: Run {printable(doc.get('name'))} ({live.id}) {state}: "
        f"{printable(doc.get('entity'))}/{printable(doc.get('project'))}/{live.id}",
        f"wbrun: Run data is saved locally in {printable(rel)}",
        f"wbrun: Find logs at: {printable(os.path.join(rel, 'files', OUTPUT))}",
    ]
    if doc.get("wandb_compat"):
        from wandb_cli.runner.wandb_shim import describe

        lines.append(f"wbrun: {describe(doc.get('wandb_compat'))}")
    return "\n".join(lines) + "\n"


def _is_below_cwd(path) -> bool:
    try:
        return not os.path.relpath(path).startswith("..")
    except ValueError:
        return False
