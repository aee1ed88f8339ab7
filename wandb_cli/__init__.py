"""wbrun's SDK: `import wandb_cli as wandb` is a drop-in for wandb's init/log/finish subset.

    import wandb_cli as wandb
    run = wandb.init(project="mnist", config={"lr": 0.01})
    run.log({"loss": 0.5})
    run.finish()

Importing this package loads nothing heavy: the SDK module is loaded on first use.
"""
from wandb_cli._version import __version__

__all__ = ["__version__", "init", "log", "finish", "save", "log_artifact", "use_artifact", "Run",
           "run", "config", "summary", "Api"]

_SDK_NAMES = ("init", "log", "finish", "save", "log_artifact", "use_artifact", "Run", "Config",
              "Summary")


def __getattr__(name: str):
    if name == "Api":  # the read API (wandb_cli/api), loaded on first use
        from wandb_cli.api import Api

        return Api
    if name in _SDK_NAMES:
        from wandb_cli.sdk import run as sdk

        return getattr(sdk, name)
    if name in ("run", "config", "summary"):
        from wandb_cli.sdk import run as sdk

        current = sdk.current()
        if name == "run" or current is None:
            return current
        return getattr(current, name)
    raise AttributeError(f"module 'wandb_cli' has no attribute {name!r}")
