"""compat: wbrun's W&B-compatible face, the `wandb` module as programs and integrations see it.

Two doors lead here: `import wandb_cli as wandb` (wandb_cli's module `__getattr__`), and,
inside `wbrun -- CMD`, a plain `import wandb`, which finds the thin `wandb` package in
`compat/shim/` first on PYTHONPATH (see runner/wandb_shim.py). Both resolve names through
`resolve()`, lazily: the SDK, the media types (`wandb_cli.media`) and the public API
(`wandb_cli.api`) are imported on first use, so a missing optional part fails only when the
program uses one of its names. The W&B API version this face answers to is
`WANDB_VERSION` (docs/wandb-compat.md lists what is supported).
"""
from __future__ import annotations

import importlib
from typing import Any

WANDB_VERSION = "0.22.3"  # transformers needs >= 0.22.3, Lightning >= 0.12.10

_SDK = ("log", "finish", "save", "log_artifact", "use_artifact", "Run", "Config",
        "Summary")
_LIVE = ("run", "config", "summary")
_API = ("login", "require", "setup", "teardown", "sweep", "agent", "controller", "termlog",
        "termwarn", "termerror", "termsetup", "define_metric", "alert", "AlertLevel", "watch",
        "unwatch", "log_code", "log_model", "use_model", "link_model", "join",
        "mark_preempting", "Error", "Settings", "Artifact", "restore", "attach", "Metric")
# (W&B's Molecule, Plotly, Graph, Classes, JoinedTable, PartitionedTable and box3d have no
# wbrun counterpart: `wandb.Plotly` is an AttributeError naming docs/wandb-compat.md)
_MEDIA = ("Image", "Table", "Histogram", "Audio", "Video", "Html", "Object3D")
# submodules that integrations use as attributes (`wandb.plot.line(...)`)
_SUBMODULES = {"plot": "wandb_cli.media.plot", "sklearn": "wandb_cli.media.sklearn",
               "tensorboard": "wandb_cli.media.tensorboard"}

NAMES = ("init", *_SDK, *_LIVE, *_API, *_MEDIA, "Api", *_SUBMODULES)
# the shim's own submodules, which W&B code reaches as attributes after a plain `import
# wandb` (`wandb.util.generate_id()`, `wandb.errors.CommError`, `wandb.sdk.wandb_run.Run`);
# imported on first use, and left out of `from wandb import *` (as W&B leaves them)
SHIM_SUBMODULES = ("util", "errors", "sdk", "apis", "integration", "keras", "wandb_run")
SHIM_PACKAGE = "wandb_cli.compat.shim.wandb"


def resolve(name: str) -> Any:
    """The object `wandb.<name>` stands for; AttributeError for names W&B does not have."""
    if name == "init":
        return importlib.import_module("wandb_cli.sdk.start").init
    if name in _SDK:
        return getattr(importlib.import_module("wandb_cli.sdk.run"), name)
    if name in _LIVE:
        from wandb_cli.sdk import run as sdk

        current = sdk.current()
        if name == "run" or current is None:
            return current
        return getattr(current, name)
    if name in _API:
        return getattr(importlib.import_module("wandb_cli.compat.api"), name)
    if name in _MEDIA:
        return getattr(importlib.import_module("wandb_cli.media"), name)
    if name == "Api":
        return importlib.import_module("wandb_cli.api").Api
    if name in _SUBMODULES:
        return importlib.import_module(_SUBMODULES[name])
    raise AttributeError(f"module 'wandb' has no attribute {name!r} (wbrun: see docs/wandb-compat.md)")
