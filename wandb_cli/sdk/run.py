"""The Run lifecycle inside the training process: init, log, config, summary, finish.

Invariants: `log()` hands its line to the OS before returning; a run started here is ended
exactly once (finish(), the `with` block, or interpreter exit), as failed after an uncaught
exception and killed after Ctrl+C or a stop request; inside `wbrun -- CMD` the SDK joins the
wrapper's run instead of starting a second one, and leaves the run's state to the wrapper.
"""
from __future__ import annotations

import os
import sys
import threading
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, Iterator

from wandb_cli.errors import WbrunError
from wandb_cli.media import is_plain_row, set_run_provider
from wandb_cli.sdk.config import Config, ConfigError
from wandb_cli.store import jsonio
from wandb_cli.store.ids import TAG_LENGTHS, tag_length_ok
from wandb_cli.store.layout import RUN_DOC, update_run_doc
from wandb_cli.store.model import FAILED, FINISHED, KILLED
from wandb_cli.store.recorder import LiveRun

if TYPE_CHECKING:
    from wandb_cli.artifacts.runfiles import Saver

_current: Run | None = None


class Summary(MutableMapping):
    """`run.summary`: the last value of each logged key; assignment overrides it."""

    def __init__(self, live: LiveRun | None):
        self._live = live
        self._own: dict[str, Any] = {}

    def _data(self) -> dict:
        return self._live._summary if self._live is not None else self._own

    def __getitem__(self, key: str) -> Any:
        return self._data()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if self._live is not None and not is_plain_row({key: value}):
            from wandb_cli.media.encode import encode_value  # an Image, Table, array...

            value = encode_value(value, self._live.paths.files, key, "summary")
        jsonio.dumps({key: value})
        if self._live is not None:
            self._live.set_summary(key, value)
        else:
            self._own[key] = value

    def __delitem__(self, key: str) -> None:
        raise TypeError("summary keys cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._data()))

    def __len__(self) -> int:
        return len(self._data())

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        for key, value in {**dict(other), **kwargs}.items():
            self[key] = value

    def __repr__(self) -> str:
        return f"Summary({dict(self._data())!r})"


def checked_tags(tags: Any) -> list[str]:
    """W&B's run tags: each 1-64 characters (ValueError otherwise, as W&B's settings raise),
    duplicates dropped, order kept."""
    out = list(dict.fromkeys(map(str, tags or ())))
    for i, tag in enumerate(out):
        if not tag_length_ok(tag):
            shown = tag if len(tag) <= 40 else f"{tag[:20]}...{tag[-20:]}"
            problem = f"Tag at index {i} is empty" if not tag else \
                f"Tag '{shown}' is {len(tag)} characters"
            raise ValueError(f"{problem}. Tags must be {TAG_LENGTHS}")
    return out


class Run:
    """A run as the training program sees it (W&B's `wandb.sdk.wandb_run.Run` subset)."""

    def __init__(self, live: LiveRun | None, config: dict, *, joined: bool, ticker=None,
                 sampler=None, metadata_thread=None, locked_config: frozenset[str] = frozenset()):
        self._live = live
        self._joined = joined
        self._ticker = ticker
        self._sampler = sampler
        self._metadata_thread = metadata_thread
        self._saver: Saver | None = None  # files.Saver: "live" and "end" saves of a run this process owns
        self._stop_requested = False
        self._finished = live is None
        self._pid = os.getpid()
        self._warned_write = False
        self._local: dict[str, Any] = {}  # attributes of a disabled run
        self._settings: Any = None  # the Settings init() was given
        self._starting_step = live.step if live else 0
        self._last_values: dict[str, Any] = {}  # for define_metric's step_sync
        self._finish_hooks: list = []  # unwatch, the joined run's marker
        self._outcome: tuple[str, int] | None = None  # (state, exit code) once finished
        self.config = Config(live, config, locked_config)
        self.summary = Summary(live)
        if live is not None:
            live.encode_values = self._encode_media

    # --- identity -----------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._live.id if self._live else "disabled"

    def _attribute(self, key: str, default: Any = None) -> Any:
        return self._live.doc.get(key, default) if self._live else self._local.get(key, default)

    def _set_attribute(self, key: str, value: Any) -> None:
        """A W&B attribute set by the program (`run.name = ...`): saved at once."""
        if self._live is None:
            self._local[key] = value
            return

        def change(doc: dict) -> None:
            doc[key] = value
            if key in (doc.get("defaulted") or []):
                doc["defaulted"] = [k for k in doc["defaulted"] if k != key]

        self._live.doc = update_run_doc(self._live.paths, change)

    name = property(lambda self: self._attribute("name", "disabled"),
                    lambda self, value: self._set_attribute("name", str(value)))
    notes = property(lambda self: self._attribute("notes"),
                     lambda self, value: self._set_attribute("notes", None if value is None else str(value)))
    group = property(lambda self: self._attribute("group"),
                     lambda self, value: self._set_attribute("group", None if value is None else str(value)))
    job_type = property(lambda self: self._attribute("job_type"),
                        lambda self, value: self._set_attribute("job_type", None if value is None else str(value)))
    tags = property(lambda self: tuple(self._attribute("tags") or ()),
                    lambda self, value: self._set_attribute("tags", checked_tags(value)))
    parent = property(lambda self: self._attribute("parent"))

    @property
    def project(self) -> str:
        return self._live.doc.get("project", "") if self._live else ""

    @property
    def entity(self) -> str:
        return self._live.doc.get("entity", "") if self._live else ""

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def dir(self) -> str:
        return str(self._live.paths.files) if self._live else ""

    @property
    def step(self) -> int:
        return self._live.step if self._live else 0

    # --- what W&B programs read (compat.md): no server, so no URLs --------------------
    url = property(lambda self: None)
    sweep_id = property(lambda self: None)
    offline = property(lambda self: self._live is not None)  # nothing ever leaves the machine
    disabled = property(lambda self: self._live is None)
    resumed = property(lambda self: bool(self._attribute("resumed")))
    start_time = property(lambda self: self._attribute("created", 0.0))
    starting_step = property(lambda self: self._starting_step)
    project_name = lambda self: self.project

    def get_url(self) -> None:
        return None

    def get_project_url(self) -> None:
        return None

    def get_sweep_url(self) -> None:
        return None

    @property
    def settings(self):
        from wandb_cli.sdk.settings import Settings

        given = self._settings.given() if self._settings is not None else {}
        return Settings(**{**given, "run_id": self.id, "run_name": self.name,
                           "project": self.project, "entity": self.entity,
                           "mode": "disabled" if self.disabled else "offline",
                           "files_dir": self.dir, "root_dir": self._root_dir()})

    def _root_dir(self) -> str:
        return str(self._live.store.root.parent) if self._live else os.getcwd()

    def _label(self, *args: Any, **kwargs: Any) -> None:
        """Integrations tag their runs (code=..., repo=...): nothing to record locally."""

    def mark_preempting(self) -> None:
        """W&B requeues a preempted run; locally the run's final state says what happened."""
        if self._live is not None:
            self._set_attribute("preempting", True)

    # --- logging ------------------------------------------------------------------------
    def log(self, data: dict, step: int | None = None, commit: bool | None = None) -> None:
        """Append a step to the history (W&B's step and commit rules)."""
        if self._live is None:
            return
        if self._finished:
            raise WbrunError(f"run {self.id} is finished; call wandb.init() for a new run")
        if not isinstance(data, dict):
            raise TypeError("wandb.log() takes a dict of metrics")
        try:
            "".join(data)  # every key a str (one C call), checked before anything is written
        except TypeError:
            bad = next(key for key in data if not isinstance(key, str))
            raise TypeError(f"wandb.log() keys must be strings, not {type(bad).__name__} ({bad!r}), "
                            "as in W&B") from None
        if self._live.summary_rules.definitions:
            data = self._with_step_metrics(data)
        try:
            self._live.log(data, step=step, commit=commit)
        except WbrunError as exc:  # a full disk must not kill the training program
            if not self._warned_write:
                self._warned_write = True
                print(f"wbrun: warning: {exc.render()}; logging continues", file=sys.stderr)

    def _encode_media(self, data: dict, step: int) -> dict:
        """Media to files + references, arrays by W&B's rule (wandb_cli.media.encode); the
        recorder calls it only for a row that holds such values."""
        from wandb_cli.media import encode

        try:
            return encode.encode_row(data, self.dir, step, encode.config_writer(self.config))
        except WbrunError as exc:  # the user's value, not the disk: an error, not a warning
            raise ValueError(exc.render()) from None

    def _with_step_metrics(self, data: dict) -> dict:
        """define_metric(step_metric=..., step_sync=True): a logged metric carries the last
        value of its step metric when the row does not give one."""
        from wandb_cli.store.metrics import find_definition

        definitions = self._live.summary_rules.definitions if self._live else []
        self._last_values.update(data)
        extra = {}
        for key in data:
            definition = find_definition(definitions, key) or {}
            axis = definition.get("step_metric")
            if axis and axis not in data and definition.get("step_sync") is not False \
                    and axis in self._last_values:
                extra[axis] = self._last_values[axis]
        return {**data, **extra} if extra else data

    def define_metric(self, name: str, step_metric: Any = None, step_sync: bool | None = None,
                      hidden: bool | None = None, summary: str | None = None,
                      goal: str | None = None, overwrite: bool | None = None):
        """How a metric (or a `prefix*` glob) is summarized and charted (W&B's rules)."""
        from wandb_cli.sdk import extras

        return extras.define_metric(self, name, step_metric=step_metric, step_sync=step_sync,
                                    hidden=hidden, summary=summary, goal=goal, overwrite=overwrite)

    def alert(self, title: str, text: str, level: Any = None, wait_duration: Any = None) -> None:
        """Record an alert in the run (files/wbrun-alerts.jsonl) and show it on stderr."""
        from wandb_cli.sdk import extras

        extras.alert(self, title, text, level)

    def watch(self, models: Any, criterion: Any = None, log: str | None = "gradients",
              log_freq: int = 1000, idx: int | None = None, log_graph: bool = False) -> None:
        """Log torch models' gradient/parameter histograms every `log_freq` steps."""
        from wandb_cli.sdk import watch

        watch.watch(self, models, log=log, log_freq=log_freq)

    def unwatch(self, models: Any = None) -> None:
        from wandb_cli.sdk import watch

        watch.unwatch(self, models)

    def log_code(self, root: str | os.PathLike | None = ".", name: str | None = None,
                 include_fn: Any = None, exclude_fn: Any = None):
        """Save the program's source files (default: *.py under `root`) as a code artifact."""
        from wandb_cli.sdk import extras

        return extras.log_code(self, root, name=name, include_fn=include_fn, exclude_fn=exclude_fn)

    def log_model(self, path: str | os.PathLike, name: str | None = None,
                  aliases: list[str] | None = None) -> None:
        """Store a model file or folder as an artifact of type "model"."""
        self.log_artifact(path, name=name or f"run-{self.id}-{os.path.basename(os.fspath(path))}",
                          type="model", aliases=aliases)

    def use_model(self, name: str) -> str:
        """Download a model artifact version; returns the local path of its file or folder."""
        from wandb_cli.sdk import extras

        return extras.use_model(self, name)

    def finish(self, exit_code: int | None = None, quiet: bool | None = None, *,
               state: str | None = None) -> None:
        """End the run: flush summary and history, record its final state."""
        global _current
        if self._finished or os.getpid() != self._pid:
            return  # (a forked child exiting must not end its parent's run)
        self._finished = True
        if state is None:
            state = KILLED if self._stop_requested else (FINISHED if not exit_code else FAILED)
        code = exit_code if exit_code is not None else (0 if state == FINISHED else 1)
        self._outcome = (state, code)  # (read by the finish hooks: a joined run's marker)
        for hook in self._finish_hooks:
            hook()
        for helper in (self._ticker, self._sampler, self._saver):
            if helper is not None:
                helper.stop()
        if self._metadata_thread is not None:
            self._metadata_thread.join(timeout=10)
        assert self._live is not None  # a disabled run starts finished
        try:
            self._live.finish(state, code)
        except WbrunError as exc:
            print(f"wbrun: warning: {exc.render()}", file=sys.stderr)
        if _current is self:
            _current = None

    # --- files and artifacts (sdk_files.py) ---------------------------------------------
    def save(self, glob_str: str | os.PathLike, base_path: str | os.PathLike | None = None,
             policy: str = "live") -> list[str]:
        """Copy files into the run's files/: "now", "end", or "live" (now and on each change)."""
        from wandb_cli.sdk import files as sdk_files

        return sdk_files.save(self, glob_str, base_path, policy)

    def log_artifact(self, artifact_or_path: Any, name: str | None = None, type: str | None = None,
                     aliases: list[str] | None = None, **_ignored: Any):
        """Store a file or folder as a new artifact version produced by this run."""
        from wandb_cli.sdk import files as sdk_files

        return sdk_files.log_artifact(self, artifact_or_path, name=name, type=type, aliases=aliases)

    def use_artifact(self, artifact_or_name: Any, type: str | None = None, **_ignored: Any):
        """An artifact version ("N:v1", "N:latest", "N:alias") this run consumes."""
        from wandb_cli.sdk import files as sdk_files

        return sdk_files.use_artifact(self, artifact_or_name, type=type)

    def _on_stop_request(self) -> None:
        import _thread
        import signal

        self._stop_requested = True
        main_ident = threading.main_thread().ident
        assert main_ident is not None  # the main thread is always started
        try:  # a real SIGINT, as Ctrl+C: it also cuts short a blocking call such as sleep()
            signal.pthread_kill(main_ident, signal.SIGINT)
        except (AttributeError, OSError, ValueError):  # no pthread_kill (Windows)
            _thread.interrupt_main()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()
        elif issubclass(exc_type, SystemExit):
            self.finish(exit_status(exc.code))
        else:
            self.finish(state=KILLED if issubclass(exc_type, KeyboardInterrupt) else FAILED,
                        exit_code=130 if issubclass(exc_type, KeyboardInterrupt) else 1)

    def __repr__(self) -> str:
        return f"<Run {self.path} ({self.name})>"


def set_current(run: Run | None) -> None:
    global _current
    _current = run


def exit_status(code) -> int:
    """The process exit status Python gives sys.exit(code)."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def current() -> Run | None:
    return _current


set_run_provider(current)  # for wandb.sklearn and the TensorBoard sync (wandb_cli.media)


def log(data: dict, step: int | None = None, commit: bool | None = None) -> None:
    if _current is None:
        raise WbrunError("wandb.log() called before wandb.init()")
    _current.log(data, step=step, commit=commit)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    if _current is not None:
        _current.finish(exit_code, quiet)


def _run_or_raise(what: str) -> Run:
    if _current is None:
        raise WbrunError(f"wandb.{what}() called before wandb.init()")
    return _current


def save(glob_str: str | os.PathLike, base_path: str | os.PathLike | None = None,
         policy: str = "live") -> list[str]:
    return _run_or_raise("save").save(glob_str, base_path=base_path, policy=policy)


def log_artifact(artifact_or_path: Any, name: str | None = None, type: str | None = None,
                 aliases: list[str] | None = None, **kwargs: Any):
    return _run_or_raise("log_artifact").log_artifact(artifact_or_path, name, type, aliases, **kwargs)


def use_artifact(artifact_or_name: Any, type: str | None = None, **kwargs: Any):
    return _run_or_raise("use_artifact").use_artifact(artifact_or_name, type, **kwargs)


__all__ = ["Run", "Config", "ConfigError", "Summary", "log", "finish", "current", "save",
           "log_artifact", "use_artifact",
           "RUN_DOC"]
