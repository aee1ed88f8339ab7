"""`wandb.sdk.wandb_run.Run`: wbrun's Run."""
from wandb_cli.sdk.run import Run  # noqa: F401
