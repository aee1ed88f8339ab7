"""The columns of `wbrun runs ls --group-by`: one row per group (no Rich, no I/O).

Invariant: a group row shows only what `query.group_runs` computed (count, states, the
mean with min–max or std of each numeric column shown, the histogram of one key), so the
table, the JSON and the CSV of a grouping always agree.
"""
from __future__ import annotations

from typing import Any, Sequence

from wandb_cli.query.group import NONE_LABEL, Group
from wandb_cli.query.parse import parse_key
from wandb_cli.textfmt import fmt_duration, is_number
from wandb_cli.views.columns import Column, fmt_value, make_column

SPREADS = ("minmax", "std")


def stat_columns(columns: Sequence[Column], by: Sequence[str]) -> list[Column]:
    """The shown columns a group summarises: numeric config and summary keys and runtime,
    not the group-by keys themselves (one value per group) nor other attributes."""
    grouped = {_identity(key) for key in by}
    chosen = []
    for column in columns:
        if column.align != "right" or column.style:
            continue
        key = parse_key(column.key)
        if (key.scope == "attr" and column.key != "runtime") or _identity(column.key) in grouped:
            continue
        chosen.append(column)
    return chosen


def _identity(text: str) -> tuple:
    key = parse_key(text)
    return ("summary" if key.scope is None else key.scope, key.path)


def distribution_key(sort: Sequence[str], stats: Sequence[Column], values_of) -> str | None:
    """The key whose histogram each group draws: the first sort key if it has numbers,
    else the first metric shown (runtime only when there is nothing else)."""
    if sort:
        key = sort[0].strip().lstrip("+-")
        if any(is_number(value) for value in values_of(key)):
            return key
    metrics = [column.key for column in stats if column.key != "runtime"]
    keys = metrics or [column.key for column in stats]
    return keys[0] if keys else None


def group_label(value: Any) -> str:
    """A group value as the table shows values (`(none)` when missing; tags joined)."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return NONE_LABEL if value is None else ", ".join(map(fmt_value, items))


def states_text(states: dict[str, int]) -> str:
    return ", ".join(f"{count} {state}" for state, count in states.items())


def stat_text(stats: dict[str, Any], *, spread: str, duration: bool) -> str:
    """`mean (min–max)` or `mean ± std`; just the mean when there is no spread to show."""
    show = fmt_duration if duration else (lambda x: f"{x:.4g}")
    if not stats.get("n"):
        return ""
    mean = show(stats["mean"])
    if spread == "std":
        return mean if stats["std"] is None else f"{mean} ± {show(stats['std'])}"
    low, high = show(stats["min"]), show(stats["max"])
    return mean if low == high else f"{mean} ({low}–{high})"


def group_columns(groups: Sequence[Group], by: Sequence[str], stats: Sequence[Column], *,
                  spread: str = "minmax", dist_key: str | None = None) -> list[Column]:
    """The table of groups: the group values, the run count, the states, each statistic,
    and the distribution sparkline."""
    columns = [make_column(key, key, [g.values[i] for g in groups], 100 - i / 100,
                           text_of=group_label) for i, key in enumerate(by)]
    columns.append(make_column("count", "runs", [g.count for g in groups], 99))
    columns.append(make_column("states", "states", [dict(g.states) for g in groups], 90,
                               text_of=states_text))
    for column in stats:
        values = [g.stats[column.key].to_dict() for g in groups]
        duration = column.key == "runtime"
        cells = [stat_text(v, spread=spread, duration=duration) for v in values]
        columns.append(Column(column.key, column.header, cells, values, column.priority,
                              align="right", croppable=False))
    if dist_key is not None:
        sparks = [g.spark for g in groups]
        named = next((column.header for column in stats if column.key == dist_key), dist_key)
        columns.append(Column("spark", f"{named} dist", sparks, sparks, 85, croppable=False))
    return columns


def group_csv(groups: Sequence[Group], by: Sequence[str], stats: Sequence[str]
              ) -> tuple[list[str], list[dict[str, Any]]]:
    """Flat rows for CSV: the group values, count, one count per state, and each statistic
    as `<key>.mean`, `.min`, `.max`, `.std`."""
    states = list(dict.fromkeys(state for g in groups for state in g.states))
    headers = [*by, "count", *(f"state.{s}" for s in states),
               *(f"{key}.{part}" for key in stats for part in ("mean", "min", "max", "std"))]
    rows = []
    for g in groups:
        row: dict[str, Any] = dict(zip(by, g.values))
        row["count"] = g.count
        row.update({f"state.{s}": g.states.get(s, 0) for s in states})
        for key in stats:
            row.update({f"{key}.{part}": value
                        for part, value in g.stats[key].to_dict().items() if part != "n"})
        rows.append(row)
    return headers, rows
