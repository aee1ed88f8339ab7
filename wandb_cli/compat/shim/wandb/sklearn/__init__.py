"""`wandb.sklearn`: wbrun's scikit-learn plots (wandb_cli.media.sklearn), on first use."""


def __getattr__(name):
    import importlib

    return getattr(importlib.import_module("wandb_cli.media.sklearn"), name)
