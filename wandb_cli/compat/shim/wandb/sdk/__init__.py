"""`wandb.sdk`: the submodules integrations import (wandb_run, wandb_settings, lib)."""
from wandb_cli.sdk.settings import Settings

from . import lib, wandb_config, wandb_run, wandb_settings

__all__ = ["Settings", "lib", "wandb_config", "wandb_run", "wandb_settings"]


def __getattr__(name):
    from wandb_cli.compat import resolve

    return resolve(name)
