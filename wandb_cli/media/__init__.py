"""Rich values for `log()`: images, tables, histograms, audio, video, HTML, 3-D objects and
charts, stored the way W&B stores them.

    import wandb_cli as wandb
    from wandb_cli import media
    wandb.log({"sample": media.Image(array, caption="epoch 3"), "preds": media.Table(df)})

Invariants: a media value becomes a file under the run's `files/media/<kind>/` named
`<key>_<step>_<sha256[:20]>.<ext>` plus a small reference object (W&B's `_type`, `path`,
`sha256`, `size`...) in the history row and the summary, never the raw bytes; a numeric
array or tensor follows W&B's rule (one element: a number, up to 32: a list, more: a
32-bin histogram).  Importing this package loads nothing heavy: numpy, PIL, torch and
pandas are imported inside the functions that need them.
"""
from __future__ import annotations

from typing import Any, Callable

__all__ = ["Image", "Table", "Histogram", "Audio", "Video", "Html", "Object3D", "plot",
           "sklearn", "tensorboard", "encode_row", "encode_value", "is_plain_row",
           "visualize"]

_NAMES = {
    "Image": "wandb_cli.media.image", "Table": "wandb_cli.media.table",
    "Histogram": "wandb_cli.media.histogram", "Audio": "wandb_cli.media.files",
    "Video": "wandb_cli.media.files", "Html": "wandb_cli.media.files",
    "Object3D": "wandb_cli.media.files", "encode_row": "wandb_cli.media.encode",
    "encode_value": "wandb_cli.media.encode", "visualize": "wandb_cli.media.charts",
}
_SUBMODULES = ("plot", "sklearn", "tensorboard")
_PLAIN_TYPES = frozenset((int, float, str, bool, type(None)))
_run_provider: Callable[[], Any] | None = None


def set_run_provider(provider: Callable[[], Any]) -> None:
    """The SDK names its current-run function here, so the integrations that log by
    themselves (sklearn, tensorboard) reach the run without importing the SDK (which sits
    above this wing)."""
    global _run_provider
    _run_provider = provider


def current_run() -> Any:
    """The run `wandb.init()` started in this process, or None."""
    return _run_provider() if _run_provider is not None else None


def is_plain_row(row: dict) -> bool:
    """True when every value is a plain number, string, bool or None (such a row needs no
    encoding; used for summary assignments)."""
    plain = _PLAIN_TYPES
    for value in row.values():
        if type(value) not in plain:
            return False
    return True


def __getattr__(name: str) -> Any:
    import importlib

    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"wandb_cli.media.{name}")
    raise AttributeError(f"module 'wandb_cli.media' has no attribute {name!r}")
