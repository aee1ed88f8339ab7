"""Reading a run's history and events back (pure reads, no terminal).

Invariant: a torn or corrupt line is skipped and reported once per file through `warn`;
every readable line before and after it is returned.
"""
from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Callable

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
