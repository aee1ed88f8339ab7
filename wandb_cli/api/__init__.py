"""A read API over the local store shaped like W&B's public `wandb.Api()`.

    from wandb_cli.api import Api
    api = Api()
    for run in api.runs("me/mnist", filters={"config.lr": {"$lt": 0.1}}, order="-summary_metrics.acc"):
        print(run.id, run.name, run.summary.get("acc"), run.history(keys=["loss"]))

Nothing heavy is imported until used (pandas only by `history(pandas=True)`).
"""
from wandb_cli.api.public import Api, Artifact, File, Run, Runs

__all__ = ["Api", "Run", "Runs", "File", "Artifact"]
