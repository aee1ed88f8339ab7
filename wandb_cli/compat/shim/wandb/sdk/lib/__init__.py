"""`wandb.sdk.lib`: `RunDisabled` is the class of a disabled run (here: a Run in mode
"disabled", so isinstance checks against either class hold for it)."""
from wandb_cli.sdk.run import Run as RunDisabled

from . import config_util, runid

__all__ = ["RunDisabled", "config_util", "runid"]
