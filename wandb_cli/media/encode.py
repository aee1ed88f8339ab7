"""Turning a logged row into what the history file holds: media to files + references,
arrays and tensors by W&B's rule, charts to tables + a chart spec in the config.

Invariants: a row of plain numbers and strings never reaches this module (the recorder calls
it only when its JSON writer meets a value that is not a JSON type); the caller's dict is
never modified; a value no rule covers is passed through unchanged (the JSON writer then
names the bad key).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from wandb_cli.media.base import Media, WBValue

ConfigWriter = Callable[[dict], None]


def encode_row(row: dict, files_dir: str | Path, step: int | str,
               config_writer: ConfigWriter | None = None) -> dict:
    """A copy of `row` ready for the history file (see the module invariants)."""
    from wandb_cli.media import charts

    out = dict(row)
    chart_config = charts.pop_charts(out)
    if chart_config and config_writer is not None:
        config_writer(chart_config)
    for key, value in out.items():
        out[key] = encode_value(value, files_dir, key, step)
    return out


def encode_value(value: Any, files_dir: str | Path, key: str, step: int | str) -> Any:
    """One logged value as JSON-ready data (files written under `files_dir` as needed)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, WBValue):
        return value.to_json(files_dir, key, step)
    if isinstance(value, dict):
        return {k: encode_value(v, files_dir, f"{key}.{k}", step) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return _sequence(value, files_dir, key, step)
    kind = type(value)
    module = kind.__module__ or ""
    if module.startswith("pandas") and kind.__name__ == "DataFrame":
        from wandb_cli.media.table import Table

        return Table(dataframe=value).to_json(files_dir, key, step)
    if module.startswith("matplotlib"):
        from wandb_cli.media.image import Image

        return Image(value).to_json(files_dir, key, step)
    from wandb_cli.media.histogram import array_value, is_tensor

    if is_tensor(value) or (module.startswith("numpy") and hasattr(value, "ndim")):
        if getattr(value, "ndim", 1) == 0:
            return value.item()
        return array_value(value)
    return value


def _sequence(values: list | tuple, files_dir: str | Path, key: str, step: int | str) -> Any:
    from wandb_cli.media.image import Image, images_json

    if values and all(isinstance(v, Image) for v in values):
        return images_json(list(values), files_dir, key, step)
    if values and all(isinstance(v, Media) for v in values):
        return [v.to_json(files_dir, key, step) for v in values]
    if any(not (v is None or isinstance(v, (bool, int, float, str))) for v in values):
        return [encode_value(v, files_dir, key, step) for v in values]
    return values


def config_writer(config: Any) -> ConfigWriter:
    """A writer that merges chart specs into `config["_wandb"]` (a run's Config)."""

    def write(update: dict) -> None:
        section = dict(config.get("_wandb") or {})
        for name, specs in update.get("_wandb", {}).items():
            section[name] = {**(section.get(name) or {}), **specs}
        config.update({"_wandb": section})

    return write
