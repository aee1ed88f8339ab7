"""The one place a CLI error becomes text: `wbrun: error: <first line>`, then any caret lines.

Invariant: every line is made `printable()`, so a run name, filter or path in a message can
never act on the terminal.  Used by the entry point (one error, then exit) and by the
commands that report per run and go on (`runs delete/tag/...`).
"""
from __future__ import annotations

import sys


def print_error(message: str) -> None:
    from wandb_cli.textfmt import printable

    first, *rest = message.split("\n")
    lines = [f"wbrun: error: {printable(first)}", *(printable(line) for line in rest)]
    print("\n".join(lines), file=sys.stderr)
