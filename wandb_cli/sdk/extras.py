"""The rest of W&B's run methods: define_metric, alert, log_code, save_code, use_model.

Invariants: metric definitions are saved to `files/wandb-metrics.json` (whole-file
replace) before `define_metric` returns, so a reader replaying the history of a run that
never finished applies the same summary rules; alerts are only appended, one line each, to
`files/wbrun-alerts.jsonl`; code is copied under `files/code/` and never outside it.
"""
from __future__ import annotations

import fnmatch
import os
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wandb_cli.errors import UsageError
from wandb_cli.store import jsonio
from wandb_cli.store.layout import ALERTS
from wandb_cli.store.metrics import GOALS, METRICS, SUMMARY_OPS
from wandb_cli.textfmt import printable

if TYPE_CHECKING:
    from wandb_cli.sdk.run import Run

ALERT_LEVELS = ("INFO", "WARN", "ERROR")


class Metric:
    """What `define_metric` returns (W&B's `wandb_metric.Metric`, read-only here)."""

    def __init__(self, definition: dict):
        self._definition = definition

    name = property(lambda self: self._definition["name"])
    step_metric = property(lambda self: self._definition.get("step_metric"))
    step_sync = property(lambda self: self._definition.get("step_sync"))
    summary = property(lambda self: self._definition.get("summary"))
    goal = property(lambda self: self._definition.get("goal"))
    hidden = property(lambda self: self._definition.get("hidden"))

    def __repr__(self) -> str:
        return f"<Metric {self.name}>"


def define_metric(run: Run, name: str, *, step_metric: Any, step_sync: bool | None,
                  hidden: bool | None, summary: str | None, goal: str | None,
                  overwrite: bool | None) -> Metric:
    if hasattr(step_metric, "name") and isinstance(step_metric, Metric):
        step_metric = step_metric.name
    definition = _checked_definition(name, step_metric, step_sync, hidden, summary, goal)
    if run._live is None:
        return Metric(definition)
    rules = run._live.summary_rules
    previous = next((d for d in rules.definitions if d["name"] == name), None)
    if previous is not None and not overwrite:  # W&B merges repeated calls by default
        definition = {**previous, **{k: v for k, v in definition.items() if v is not None}}
    kept = [d for d in rules.definitions if d["name"] != name]
    rules.definitions[:] = [*kept, definition] if previous is None else \
        [definition if d["name"] == name else d for d in rules.definitions]
    jsonio.write_json_atomic(run._live.paths.file(METRICS), rules.definitions)
    return Metric(definition)


def _checked_definition(name: Any, step_metric: Any, step_sync: Any, hidden: Any, summary: Any,
                        goal: Any) -> dict:
    if not name or not isinstance(name, str):
        raise UsageError("define_metric() needs a metric name")
    if "*" in name[:-1]:
        raise UsageError(f"define_metric({name!r}): only a trailing '*' glob is supported")
    for arg, value, kind in (("step_metric", step_metric, str), ("step_sync", step_sync, bool),
                             ("hidden", hidden, bool), ("summary", summary, str), ("goal", goal, str)):
        if value is not None and not isinstance(value, kind):
            raise UsageError(f"define_metric({arg}=...) must be a {kind.__name__}")
    if summary:
        for op in summary.lower().split(","):
            if op.strip() not in SUMMARY_OPS:
                raise UsageError(f"define_metric(summary=...): unknown operation {op.strip()!r} "
                                 f"(choose from {', '.join(SUMMARY_OPS)})")
    if goal is not None:
        goal = {"min": "minimize", "max": "maximize"}.get(goal.lower(), goal.lower())
        if goal not in GOALS:
            raise UsageError(f"define_metric(goal={goal!r}): choose minimize or maximize")
    if step_metric and step_sync is None:
        step_sync = True
    return {"name": name, "step_metric": step_metric, "step_sync": step_sync,
            "summary": summary.lower() if summary else None, "goal": goal, "hidden": hidden}


def alert(run: Run, title: str, text: str, level: Any) -> None:
    level_name = str(getattr(level, "value", level) or "INFO").upper()
    if level_name not in ALERT_LEVELS:
        raise UsageError(f"alert level {level_name!r}: choose INFO, WARN or ERROR")
    print(f"wbrun: alert [{level_name}] {printable(str(title))}: {printable(str(text))}",
          file=sys.stderr)
    if run._live is None:
        return
    row = {"title": str(title), "text": str(text), "level": level_name, "_step": run.step,
           "_timestamp": round(time.time(), 3)}
    out = jsonio.AppendFile(run._live.paths.file(ALERTS))
    try:
        out.write_line(jsonio.dumps(row))
    finally:
        out.close()


def _code_files(root: Path, include_fn: Any, exclude_fn: Any) -> list[Path]:
    found = []
    skip_dirs = {".git", "wandb", "__pycache__", ".venv", "venv", "node_modules", "artifacts"}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in skip_dirs and not d.startswith(".")]
        for name in names:
            path = Path(folder, name)
            included = include_fn(str(path), str(root)) if include_fn else fnmatch.fnmatch(name, "*.py")
            if included and not (exclude_fn and exclude_fn(str(path), str(root))):
                found.append(path)
    return sorted(found)


def _call_filter(fn: Any):
    """W&B calls include_fn(path, root) (older: include_fn(path)): accept both."""
    if fn is None:
        return None

    def call(path: str, root: str) -> bool:
        try:
            return bool(fn(path, root))
        except TypeError:
            return bool(fn(path))
    return call


def log_code(run: Run, root: Any, *, name: str | None, include_fn: Any, exclude_fn: Any):
    """Copy source files under files/code/ and store them as a "code" artifact."""
    if run._live is None:
        return None
    base = Path(root if root is not None else ".").resolve()
    files = _code_files(base, _call_filter(include_fn), _call_filter(exclude_fn))
    if not files:
        print(f"wbrun: warning: log_code found no files under {printable(str(base))}",
              file=sys.stderr)
        return None
    target = run._live.paths.files / "code"
    for path in files:
        dest = target / path.relative_to(base)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    return run.log_artifact(str(target), name=name or f"source-{run.project}-{run.id}", type="code")


def save_main_program(run: Run) -> None:
    """init(save_code=True): the program's main file under files/code/ (as W&B saves it)."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if run._live is None or program is None or not program.is_file():
        return
    try:
        relative = program.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        relative = Path(program.name)
    dest = run._live.paths.files / "code" / relative
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(program, dest)


def use_model(run: Run, name: str) -> str:
    """Download a model version and return the path of its file (one file) or folder."""
    artifact = run.use_artifact(name)
    folder = Path(artifact.download())
    files = artifact.files
    return str(folder / files[0]) if len(files) == 1 else str(folder)
