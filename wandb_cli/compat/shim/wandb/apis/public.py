"""`wandb.apis.public.Api`: wbrun's Api over the local store, on first use."""


def __getattr__(name):
    import importlib

    return getattr(importlib.import_module("wandb_cli.api"), name)
