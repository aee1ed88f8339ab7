"""`wandb.apis`: the public API over the local store (wandb_cli.api)."""
from . import public

__all__ = ["public"]
