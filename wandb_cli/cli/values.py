"""Argument helpers with no Typer in them, shared by the Typer commands and the fast paths."""
from __future__ import annotations

import json
from pathlib import Path

from wandb_cli.errors import UsageError


def open_store(dir_option: Path | None):
    from wandb_cli.store.layout import Store, resolve_root

    return Store(resolve_root(dir_option))


def parse_value(raw: str):
    """A value that parses as JSON is taken as JSON, else as a string."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def parse_pairs(pairs: list[str], what: str) -> dict:
    values: dict = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"bad {what} {pair!r}: expected KEY=VALUE")
        values[key.strip()] = parse_value(raw)
    return values


def check_format(fmt: str, allowed: tuple[str, ...]) -> str:
    if fmt not in allowed:
        raise UsageError(f"bad --format {fmt!r}: choose {', '.join(allowed)}")
    return fmt


#END
