"""`wbrun runs compare`: the config and summary of several runs side by side (no I/O).

Invariant: every config and summary leaf key of any compared run is one row, and a row is
marked as differing exactly when its values are not all the same (a missing value differs
from any present one; 1 and 1.0 are the same number, true and 1 are not, NaN equals NaN).
Differing rows come first, config before summary, each part in key order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from wandb_cli.errors import UsageError
from wandb_cli.query.values import KeyResolver, collect_keys
from wandb_cli.store.model import RunRecord
from wandb_cli.views.columns import Column, make_column

SCOPES = ("config", "summary")


@dataclass
class KeyRow:
    scope: str
    key: str  # as parse_key reads it, without the scope
    values: list[Any]  # one per run, None where the run lacks the key
    differs: bool

    @property
    def qualified(self) -> str:
        return f"{self.scope}.{self.key}"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.qualified, "scope": self.scope, "differs": self.differs,
                "values": list(self.values)}


def _same(a: Any, b: Any) -> bool:
    if type(a) is bool or type(b) is bool:
        return type(a) is type(b) and a == b
    if type(a) is float and type(b) is float and math.isnan(a) and math.isnan(b):
        return True
    return a == b and (a is None) == (b is None)


def compare_runs(records: Sequence[RunRecord]) -> list[KeyRow]:
    """One row per config and summary key of `records`, differing rows first."""
    if len(records) < 2:
        raise UsageError("compare needs at least two runs")
    keys = collect_keys(records)
    resolver = KeyResolver(records)
    rows = []
    for scope in SCOPES:
        for key in sorted(getattr(keys, scope)):
            get = resolver.getter(f"{scope}.{key}")
            values = [get(record) for record in records]
            differs = not all(_same(values[0], value) for value in values[1:])
            rows.append(KeyRow(scope, key, values, differs))
    return sorted(rows, key=lambda row: not row.differs)  # stable: scope, then key order


def compare_dict(records: Sequence[RunRecord], rows: Sequence[KeyRow]) -> dict[str, Any]:
    """The `--format json` form: the runs compared, then every key row."""
    return {
        "runs": [{"id": r.id, "name": r.name, "state": r.state} for r in records],
        "keys": [row.to_dict() for row in rows],
    }


def compare_columns(records: Sequence[RunRecord], rows: Sequence[KeyRow]) -> list[Column]:
    """A mark column (≠ on differing rows), the key, then one column per run."""
    columns = [
        Column("differs", "", ["≠" if row.differs else "" for row in rows],
               [row.differs for row in rows], 100, croppable=False),
        make_column("key", "key", [row.qualified for row in rows], 99, cap=40, shrink_to=16),
    ]
    for index, record in enumerate(records):
        columns.append(make_column(record.id, f"{record.name} ({record.id})",
                                   [row.values[index] for row in rows], 98 - index / 100))
    return columns
