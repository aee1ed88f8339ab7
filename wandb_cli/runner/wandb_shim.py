"""What `wbrun -- CMD` adds to its child's environment so that `import wandb` is wbrun.

Invariant: with the compatibility layer on (the default), the child's PYTHONPATH starts
with `wandb_cli/compat/shim/`, which holds only a `wandb` package and its
`wandb-<version>.dist-info`, so it wins over an installed `wandb` in the program and in every
Python subprocess that inherits the environment, and adds no other module. With it off
nothing is changed. The wrapper only points at that folder: it never imports the
compatibility package itself.
"""
from __future__ import annotations

import os
from pathlib import Path

from wandb_cli.errors import UsageError

MODES = ("on", "off")
ENV_VAR = "WBRUN_WANDB_COMPAT"


def shim_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "compat" / "shim"


def wandb_version() -> str:
    """The W&B version the shim answers with (its dist-info folder's name)."""
    for entry in sorted(shim_dir().glob("wandb-*.dist-info")):
        return entry.name[len("wandb-"):-len(".dist-info")]
    return "?"


def compat_mode(option: str | None, env: dict) -> str:
    """`--wandb-compat`, else $WBRUN_WANDB_COMPAT, else on."""
    mode = (option or env.get(ENV_VAR) or "on").strip().lower()
    if mode not in MODES:
        source = "--wandb-compat" if option else ENV_VAR
        raise UsageError(f"bad {source} {mode!r}: choose on or off")
    return mode


def child_env(env: dict, mode: str) -> dict:
    """`env` with the shim first on PYTHONPATH (mode "on"), else unchanged."""
    if mode != "on":
        return env
    shim = str(shim_dir())
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != shim]
    package_parent = str(Path(__file__).resolve().parents[2])
    return {**env, "PYTHONPATH": os.pathsep.join([shim, *rest]),
            # for a program whose Python cannot import wandb_cli (see shim/wandb/__init__.py)
            "WBRUN_PACKAGE_PARENT": package_parent}


def describe(mode: str | None) -> str:
    """The closing block's line about which `wandb` the program got."""
    if mode == "on":
        return f"import wandb: wbrun's compatibility package (W&B API {wandb_version()})"
    if mode == "off":
        return "import wandb: the program's own (--wandb-compat off)"
    return ""
