"""wbrun's SDK: `import wandb_cli as wandb` is a drop-in for W&B's Python API.

    import wandb_cli as wandb
    run = wandb.init(project="mnist", config={"lr": 0.01})
    run.log({"loss": 0.5})
    run.finish()

Importing this package loads nothing heavy: every W&B name (init, log, define_metric,
Settings, Image, Table, Api, plot ...) is resolved on first use by `wandb_cli.compat`.
`wandb_cli.run`, `.config` and `.summary` are the current run's (None before init());
`from wandb_cli import *` gives live stand-ins for them that follow every init()
(compat/live.py), never a copy of None.
"""
from wandb_cli._version import __version__

__all__ = ["__version__", "init", "log", "finish", "save", "log_artifact", "use_artifact", "Run",
           "run", "config", "summary", "login", "define_metric", "Settings", "Artifact", "alert",
           "watch", "unwatch", "Api"]


def __getattr__(name: str):
    from wandb_cli.compat import NAMES, resolve

    if name in ("run", "config", "summary"):
        from wandb_cli.compat.live import LiveProxy, star_importing

        if star_importing():
            return LiveProxy(name)
    if name in NAMES:
        return resolve(name)
    from wandb_cli.compat import SHIM_PACKAGE, SHIM_SUBMODULES

    # `wandb.util`, `wandb.apis`... as under `import wandb`; `errors` and `sdk` are this
    # package's own modules of those names (errors.py carries W&B's exception names)
    if name in SHIM_SUBMODULES:
        import importlib

        own = name in ("errors", "sdk")
        return importlib.import_module(f"wandb_cli.{name}" if own else f"{SHIM_PACKAGE}.{name}")
    raise AttributeError(f"module 'wandb_cli' has no attribute {name!r}")
