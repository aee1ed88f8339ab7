"""`wandb.plot`: wbrun's chart tables (wandb_cli.media.plot), imported on first use."""


def __getattr__(name):
    import importlib

    return getattr(importlib.import_module("wandb_cli.media.plot"), name)
