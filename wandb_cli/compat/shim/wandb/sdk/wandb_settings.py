"""`wandb.sdk.wandb_settings.Settings`."""
from wandb_cli.sdk.settings import Settings  # noqa: F401
