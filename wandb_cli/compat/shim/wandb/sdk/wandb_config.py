"""`wandb.sdk.wandb_config.Config`."""
from wandb_cli.sdk.config import Config  # noqa: F401
