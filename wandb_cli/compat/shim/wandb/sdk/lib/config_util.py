"""`wandb.sdk.lib.config_util.ConfigError`."""
from wandb_cli.sdk.config import ConfigError  # noqa: F401
