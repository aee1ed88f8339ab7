"""`wandb.tensorboard`: TensorBoard sync (wandb_cli.media.tensorboard), on first use."""


def __getattr__(name):
    import importlib

    return getattr(importlib.import_module("wandb_cli.media.tensorboard"), name)
