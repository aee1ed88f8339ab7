"""`wandb` inside `wbrun -- CMD`: wbrun's W&B-compatible face (wandb_cli/compat).

Every name resolves lazily through `wandb_cli.compat.resolve`, so importing this costs
only wandb_cli's own import; `wandb.run`, `wandb.config` and `wandb.summary` follow the
current run.
"""
import os as _os
import sys as _sys

try:
    import wandb_cli.compat  # noqa: F401
except ImportError:  # the program's Python lacks wbrun: use the copy that runs the wrapper
    if _os.environ.get("WBRUN_PACKAGE_PARENT"):
        _sys.path.append(_os.environ["WBRUN_PACKAGE_PARENT"])

if _os.environ.get("WBRUN_RUN_DIR"):  # tell the wrapper: printed `k=v` lines may be output
    try:  # (store/layout.py SDK_IMPORTED: the pids of the processes that imported wandb)
        with open(_os.path.join(_os.environ["WBRUN_RUN_DIR"], "sdk-imported"), "a") as _marker:
            _marker.write(f"{_os.getpid()}\n")
    except OSError:
        pass

from wandb_cli.compat import NAMES as _NAMES
from wandb_cli.compat import SHIM_SUBMODULES as _SHIM_SUBMODULES
from wandb_cli.compat import WANDB_VERSION as __version__
from wandb_cli.compat import resolve as _resolve

__all__ = ["__version__", *(n for n in _NAMES if n not in ("run", "config", "summary"))]


def __getattr__(name):
    if name in _NAMES:
        return _resolve(name)
    if name in _SHIM_SUBMODULES:  # `wandb.util` after a plain `import wandb`
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'wandb' has no attribute {name!r} (wbrun: see docs/wandb-compat.md)")
