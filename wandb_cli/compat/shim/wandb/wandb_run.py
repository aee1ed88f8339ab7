"""`wandb.wandb_run.Run` (W&B's older path)."""
from wandb_cli.sdk.run import Run  # noqa: F401
