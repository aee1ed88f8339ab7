"""Pieces shared by the command modules: option types, opening the store, KEY=VALUE."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from wandb_cli.cli.values import (  # noqa: F401 - re-exported for the command modules
    check_format,
    open_store,
    parse_pairs,
    parse_value,
)
from wandb_cli.views.output import stdout_is_tty  # noqa: F401 - re-exported for the command modules

DirOption = Annotated[
    Optional[Path],
    typer.Option("--dir", help="Store root (default ./wandb, or $WBRUN_DIR).", show_default=False),
]
FORMATS_TABLE_JSON_CSV = ("table", "json", "csv")
