"""Custom charts (`wandb.plot.*`, `wandb.plot_table`) and legacy `wandb.visualize` charts,
stored as W&B stores them.

Invariants: a custom chart logged under KEY becomes a table in the row under `KEY_table`
plus the Vega spec settings in the config at `_wandb.visualize.KEY`; a `visualize` chart
becomes a table under KEY plus `_wandb.viz.KEY`; charts nested in dicts use the dotted key.
"""
from __future__ import annotations

from typing import Any

from wandb_cli.errors import UsageError


class CustomChart:
    """A Vega chart over a Table: W&B's `wandb.plot.CustomChart`."""

    def __init__(self, table: Any, spec_name: str, fields: dict, string_fields: dict,
                 split_table: bool = False):
        from wandb_cli.media.table import Table

        if not isinstance(table, Table):
            raise UsageError(f"a chart needs a wandb.Table, not {type(table).__name__}")
        self.table, self.spec_name = table, spec_name
        self.fields, self.string_fields, self.split_table = fields, string_fields, split_table

    def table_key(self, key: str) -> str:
        return f"Custom Chart Tables/{key}_table" if self.split_table else f"{key}_table"

    def config_value(self, key: str) -> dict:
        summary_table = {"name": "summaryTable", "fields": [],
                         "args": [{"name": "tableKey", "value": self.table_key(key)}]}
        return {"panel_type": "Vega2", "panel_config": {
            "panelDefId": self.spec_name, "fieldSettings": self.fields,
            "stringSettings": self.string_fields, "transform": {"name": "tableWithLeafColNames"},
            "userQuery": {"queryFields": [{
                "name": "runSets", "args": [{"name": "runSets", "value": "${runSets}"}],
                "fields": [{"name": "id", "fields": []}, {"name": "name", "fields": []},
                           {"name": "_defaultColorIndex", "fields": []}, summary_table]}]}}}

    def __repr__(self) -> str:
        return f"<CustomChart {self.spec_name} {self.table!r}>"


class Visualize:
    """W&B's legacy preset chart (`wandb.visualize(id, table)`, used by wandb.sklearn)."""

    def __init__(self, spec_id: str, table: Any):
        from wandb_cli.media.table import Table

        if not isinstance(table, Table):
            raise UsageError(f"wandb.visualize needs a wandb.Table, not {type(table).__name__}")
        self.spec_id, self.table = spec_id, table

    def config_value(self, key: str) -> dict:
        return {"id": self.spec_id, "historyFieldSettings": {"x-axis": "_step", "key": key}}


def visualize(id: str, value: Any) -> Visualize:
    return Visualize(id, value)


def plot_table(vega_spec_name: str, data_table: Any, fields: dict,
               string_fields: dict | None = None, split_table: bool = False) -> CustomChart:
    """W&B's `wandb.plot_table`: any Vega spec over a table."""
    return CustomChart(data_table, vega_spec_name, fields, string_fields or {}, split_table)


def pop_charts(row: dict) -> dict:
    """Replace the charts in `row` (nested ones too, as W&B does: their table goes to the top
    level under the dotted key) by their tables; return the config update."""
    config: dict[str, dict] = {}
    tables: dict[str, Any] = {}
    _collect(row, "", config, tables)
    row.update(tables)
    return {"_wandb": config} if config else {}


def _collect(row: dict, prefix: str, config: dict, tables: dict) -> None:
    for key in list(row):
        value, full_key = row[key], f"{prefix}{key}"
        if isinstance(value, CustomChart):
            del row[key]
            tables[value.table_key(full_key)] = value.table
            config.setdefault("visualize", {})[full_key] = value.config_value(full_key)
        elif isinstance(value, Visualize):
            row[key] = value.table
            config.setdefault("viz", {})[full_key] = value.config_value(full_key)
        elif isinstance(value, dict) and any(isinstance(v, (CustomChart, Visualize, dict))
                                             for v in value.values()):
            row[key] = inner = dict(value)
            _collect(inner, f"{full_key}.", config, tables)
