"""W&B's module-level functions that are not the SDK core: login, require, setup, the
terminal helpers, the run-method shortcuts (`wandb.define_metric(...)` is
`wandb.run.define_metric(...)`) and the sweep entry points, which say clearly that sweeps
are not part of wbrun.

Invariant: nothing here talks to a network; a call that needs a run and has none raises a
WbrunError naming the call, as `wandb.log` before `wandb.init` does.
"""
from __future__ import annotations

import enum
import os
import sys
from typing import Any

from wandb_cli.errors import UsageError, WbrunError
from wandb_cli.sdk.extras import Metric
from wandb_cli.sdk.files import Artifact
from wandb_cli.sdk.settings import Settings
from wandb_cli.textfmt import printable

__all__ = ["AlertLevel", "Artifact", "Error", "Metric", "Settings", "agent", "alert", "attach",
           "controller", "define_metric", "join", "link_model", "log_code", "log_model", "login",
           "mark_preempting", "require", "restore", "setup", "sweep", "teardown", "termerror",
           "termlog", "termsetup", "termwarn", "unwatch", "use_model", "watch"]

Error = WbrunError  # `except wandb.Error` catches wbrun's errors


class AlertLevel(enum.Enum):
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


def login(key: str | None = None, relogin: bool | None = None, host: str | None = None,
          force: bool | None = None, timeout: int | None = None, **_ignored: Any) -> bool:
    """Nothing to log into: runs stay on this machine. Always True."""
    return True


def require(requirement: Any = None, experiment: Any = None) -> None:
    """W&B's feature switches (`"core"`, `"service"`): wbrun has one behaviour."""


def setup(settings: Any = None) -> None:
    """W&B starts its service process here; wbrun has none."""


def teardown(exit_code: int | None = None) -> None:
    from wandb_cli.sdk import run as sdk

    sdk.finish(exit_code)


_said: set[str] = set()


def _term(prefix: str, text: str, repeat: bool) -> None:
    if not repeat and text in _said:
        return
    _said.add(text)
    print(f"{prefix}{printable(str(text))}", file=sys.stderr)


def termlog(string: str = "", newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    _term("wandb: " if prefix else "", string, repeat)


def termwarn(string: str, newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    _term("wandb: WARNING " if prefix else "", string, repeat)


def termerror(string: str, newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    _term("wandb: ERROR " if prefix else "", string, repeat)


def termsetup(settings: Any = None, logger: Any = None) -> None:
    """Terminal set-up: nothing to set up."""


def _run(what: str):
    from wandb_cli.sdk import run as sdk

    current = sdk.current()
    if current is None:
        raise WbrunError(f"wandb.{what}() called before wandb.init()")
    return current


def define_metric(name: str, step_metric: Any = None, step_sync: bool | None = None,
                  hidden: bool | None = None, summary: str | None = None,
                  goal: str | None = None, overwrite: bool | None = None) -> Metric:
    return _run("define_metric").define_metric(name, step_metric, step_sync, hidden, summary,
                                               goal, overwrite)


def alert(title: str, text: str, level: Any = None, wait_duration: Any = None) -> None:
    _run("alert").alert(title, text, level, wait_duration)


def watch(models: Any, criterion: Any = None, log: str | None = "gradients", log_freq: int = 1000,
          idx: int | None = None, log_graph: bool = False) -> None:
    _run("watch").watch(models, criterion, log, log_freq, idx, log_graph)


def unwatch(models: Any = None) -> None:
    _run("unwatch").unwatch(models)


def log_code(root: str | os.PathLike | None = ".", name: str | None = None, include_fn: Any = None,
             exclude_fn: Any = None):
    return _run("log_code").log_code(root, name, include_fn, exclude_fn)


def log_model(path: str | os.PathLike, name: str | None = None, aliases: list[str] | None = None) -> None:
    _run("log_model").log_model(path, name, aliases)


def use_model(name: str) -> str:
    return _run("use_model").use_model(name)


def link_model(path: Any, registered_model_name: str, name: str | None = None,
               aliases: list[str] | None = None) -> None:
    raise UsageError("wandb.link_model: the model registry is not part of wbrun; "
                     "use log_model (docs/wandb-compat.md)")


def join(exit_code: int | None = None) -> None:
    """W&B's old name for `finish`."""
    from wandb_cli.sdk import run as sdk

    sdk.finish(exit_code)


def mark_preempting() -> None:
    _run("mark_preempting").mark_preempting()


def restore(name: str, run_path: str | None = None, replace: bool = False, root: str | None = None):
    raise UsageError("wandb.restore: downloading files from a server is not part of wbrun; "
                     "the run's files are under its folder (wbrun runs files RUN)")


def attach(attach_id: str | None = None, run_id: str | None = None, **_ignored: Any):
    raise UsageError("wandb.attach is not supported by wbrun: pass the run object to the process")


def _no_sweeps(call: str) -> UsageError:
    return UsageError(f"wandb.{call}: sweeps are not part of wbrun (no sweep server); run the "
                      "configurations yourself, e.g. one `wbrun -c key=value -- ...` per point, "
                      "and compare them with `wbrun runs ls --group-by`")


def sweep(sweep: Any = None, entity: str | None = None, project: str | None = None,
          prior_runs: Any = None) -> str:
    raise _no_sweeps("sweep")


def agent(sweep_id: str, function: Any = None, entity: str | None = None,
          project: str | None = None, count: int | None = None) -> None:
    raise _no_sweeps("agent")


def controller(sweep_id_or_config: Any = None, entity: str | None = None,
               project: str | None = None) -> None:
    raise _no_sweeps("controller")
