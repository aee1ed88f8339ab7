"""The Run lifecycle inside the training process: init, log, config, summary, finish.

Invariants: `log()` hands its line to the OS before returning; a run started here is ended
exactly once (finish(), the `with` block, or interpreter exit), as failed after an uncaught
exception and killed after Ctrl+C or a stop request; inside `wbrun -- CMD` the SDK joins the
wrapper's run instead of starting a second one, and leaves the run's state to the wrapper.
"""
from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from wandb_cli.errors import WbrunError
from wandb_cli.media import is_plain_row, set_run_provider
from wandb_cli.store import jsonio
from wandb_cli.store.layout import CONFIG, RUN_DOC, SDK_ATTACHED, Store, resolve_root
from wandb_cli.store.model import FAILED, FINISHED, KILLED
from wandb_cli.store.recorder import LiveRun, RunSpec, Ticker, start_run

if TYPE_CHECKING:
    from wandb_cli.artifacts.runfiles import Saver

_current: Run | None = None


class Config(MutableMapping):
    """`run.config`: a dict that persists every change (attribute access works too)."""

    def __init__(self, live: LiveRun | None, initial: dict):
        object.__setattr__(self, "_live", live)
        object.__setattr__(self, "_data", dict(initial))

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        if self._live is not None:
            jsonio.write_json_atomic(self._live.paths.file(CONFIG), self._data)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, other: Any = (), /, allow_val_change: bool = True, **kwargs: Any) -> None:
        values = {**dict(other), **kwargs}
        if self._live is not None:
            self._live.update_config(values)
        self._data.update(values)

    def as_dict(self) -> dict:
        return dict(self._data)

    def __repr__(self) -> str:
        return f"Config({self._data!r})"


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

    def __repr__(self) -> str:
        return f"Summary({dict(self._data())!r})"


class Run:
    """A run as the training program sees it (W&B's `wandb.sdk.wandb_run.Run` subset)."""

    def __init__(self, live: LiveRun | None, config: dict, *, joined: bool, ticker=None,
                 sampler=None, metadata_thread=None):
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
        self.config = Config(live, config)
        self.summary = Summary(live)
        if live is not None:
            live.encode_values = self._encode_media

    # --- identity -----------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._live.id if self._live else "disabled"

    @property
    def name(self) -> str:
        return self._live.doc.get("name", "") if self._live else "disabled"

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

    # --- logging ------------------------------------------------------------------------
    def log(self, data: dict, step: int | None = None, commit: bool | None = None) -> None:
        """Append a step to the history (W&B's step and commit rules)."""
        if self._live is None:
            return
        if self._finished:
            raise WbrunError(f"run {self.id} is finished; call wandb.init() for a new run")
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

    def finish(self, exit_code: int | None = None, *, state: str | None = None) -> None:
        """End the run: flush summary and history, record its final state."""
        global _current
        if self._finished or os.getpid() != self._pid:
            return  # (a forked child exiting must not end its parent's run)
        self._finished = True
        if state is None:
            state = KILLED if self._stop_requested else (FINISHED if not exit_code else FAILED)
        for helper in (self._ticker, self._sampler, self._saver):
            if helper is not None:
                helper.stop()
        if self._metadata_thread is not None:
            self._metadata_thread.join(timeout=10)
        assert self._live is not None  # a disabled run starts finished
        try:
            self._live.finish(state, exit_code if exit_code is not None else (0 if state == FINISHED else 1))
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
            self.finish(_exit_status(exc.code))
        else:
            self.finish(state=KILLED if issubclass(exc_type, KeyboardInterrupt) else FAILED,
                        exit_code=130 if issubclass(exc_type, KeyboardInterrupt) else 1)

    def __repr__(self) -> str:
        return f"<Run {self.path} ({self.name})>"


def init(project: str | None = None, entity: str | None = None, name: str | None = None,
         id: str | None = None, notes: str | None = None, tags: list[str] | None = None,
         group: str | None = None, job_type: str | None = None, config: dict | None = None,
         dir: str | os.PathLike | None = None, resume: str | bool | None = None,
         mode: str | None = None, reinit: bool | None = None, **_ignored: Any) -> Run:
    """Start a run (or join the one `wbrun -- CMD` is recording) and return it."""
    global _current
    mode = mode or os.environ.get("WBRUN_MODE") or os.environ.get("WANDB_MODE")
    if mode == "disabled":
        _current = Run(None, dict(config or {}), joined=False)
        return _current
    if _current is not None and not _current._finished:
        _current.finish()
    config = _as_dict(config)
    jsonio.dumps(config)  # refuse unserializable config before writing anything
    if os.environ.get("WBRUN_RUN_DIR"):
        chosen = {"name": name, "project": project, "entity": entity, "notes": notes,
                  "group": group, "job_type": job_type}
        _current = _join(Path(os.environ["WBRUN_RUN_DIR"]), config, tags or [], chosen)
    else:
        from wandb_cli.runner.metadata import redact_command

        resume_mode = resume if isinstance(resume, str) else ("allow" if resume else "never")
        spec = RunSpec(project=project, entity=entity, name=name, id=id, notes=notes,
                       tags=list(tags or []), group=group, job_type=job_type, config=config,
                       resume=resume_mode, command=redact_command([sys.executable, *sys.argv]))
        _current = _start(Store(resolve_root(dir)), spec)
    return _current


def _as_dict(config: Any) -> dict:
    if config is None:
        return {}
    if isinstance(config, dict):
        return dict(config)
    if hasattr(config, "__dict__"):  # argparse.Namespace and similar
        return dict(vars(config))
    return dict(config)


def _start(store: Store, spec: RunSpec) -> Run:
    from wandb_cli.runner.sampler import system_interval

    interval = system_interval(None, os.environ)  # a bad value: refused before the run exists
    live = start_run(store, spec, pid=os.getpid(), recorder="sdk")
    meta = _metadata_thread(live, spec.command)
    run = Run(live, spec.config if not live.doc.get("resumed") else _read_config(live),
              joined=False, metadata_thread=meta)
    run._ticker = Ticker(live, on_stop=run._on_stop_request)
    run._ticker.start()
    run._sampler = _start_sampler(live, interval)
    from wandb_cli.artifacts.runfiles import start_saver

    run._saver = start_saver(live.paths.dir)
    _install_exit_hooks()
    return run


def _join(run_dir: Path, config: dict, tags: list[str], chosen: dict) -> Run:
    """Join the wrapper's run: config and tags merge; an attribute init() names is taken
    where the wrapper's user left it unset (a defaulted name/project/entity, no notes...)."""
    from wandb_cli.store.layout import update_run_doc
    from wandb_cli.store.recorder import attach

    # the marker first: a metric line the wrapper parses now would get the step we take next
    (run_dir / SDK_ATTACHED).touch(mode=jsonio.FILE_MODE)
    live = attach(run_dir)

    def merge(doc: dict) -> None:
        doc["tags"] = list(dict.fromkeys([*doc.get("tags", []), *tags]))
        defaulted = doc.get("defaulted") or []
        for key, value in chosen.items():
            if value is not None and (not doc.get(key) or key in defaulted):
                doc[key] = value
        doc["defaulted"] = [key for key in defaulted if chosen.get(key) is None]

    live.doc = update_run_doc(live.paths, merge)
    if config:
        live.update_config(config)
    run = Run(live, _read_config(live), joined=True)
    run._ticker = Ticker(live)
    run._ticker.start()
    _install_exit_hooks()
    return run


def _read_config(live: LiveRun) -> dict:
    try:
        return jsonio.read_json(live.paths.file(CONFIG), {}) or {}
    except ValueError:
        return {}


def _metadata_thread(live: LiveRun, command: list[str]) -> threading.Thread:
    def write() -> None:
        from wandb_cli.runner.metadata import write_metadata

        write_metadata(live, command)

    thread = threading.Thread(target=write, name="wbrun-metadata", daemon=True)
    thread.start()
    return thread


def _start_sampler(live: LiveRun, interval: float):
    """System metrics of this process, sampled from a process of its own (see sampler_proc)."""
    from wandb_cli.runner.sampler import system_enabled

    if not system_enabled(os.environ):
        return None
    from wandb_cli.runner.sampler import SamplerProcess

    return SamplerProcess(str(live.paths.dir), os.getpid(), interval)


_hooks_installed = False
_exit_code: int | None = None  # the code of the last sys.exit() call, for the atexit hook


def _install_exit_hooks() -> None:
    """Once per process, however many runs it starts: an excepthook that ends the current
    run as failed (killed after Ctrl+C), a sys.exit() that remembers its code, and an atexit
    hook that ends the current run with it.  They hold no run, only look up `_current`, so a
    finished run is not kept alive and a thousand init()/finish() do not nest a thousand
    wrappers."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    previous = sys.excepthook

    def excepthook(exc_type, exc, tb):
        run = _current
        if run is not None and not run._finished:
            killed = issubclass(exc_type, KeyboardInterrupt)
            run.finish(state=KILLED if killed else FAILED, exit_code=130 if killed else 1)
        previous(exc_type, exc, tb)

    sys.excepthook = excepthook
    # SystemExit never reaches the excepthook: remember sys.exit()'s code for the exit hook
    # (W&B's ExitHooks do the same), so sys.exit(3) records failed/3, not finished.
    real_exit = sys.exit

    def exit(code=None):
        global _exit_code
        _exit_code = _exit_status(code)
        real_exit(code)

    sys.exit = exit
    atexit.register(_finish_at_exit)


def _finish_at_exit() -> None:
    run = _current
    if run is not None:
        run.finish(None if run._joined else _exit_code)


def _exit_status(code) -> int:
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


def finish(exit_code: int | None = None) -> None:
    if _current is not None:
        _current.finish(exit_code)


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


__all__ = ["Run", "init", "log", "finish", "current", "save", "log_artifact", "use_artifact",
           "RUN_DOC"]
