"""`init()`: W&B's keywords, settings and environment variables, and which run they give.

Which run `init()` returns (W&B's `reinit` modes, 0.19.10 and later):
- a run of this process is still active: `reinit="default"`/`False`/`"return_previous"`
  returns it; `True`/`"finish_previous"` finishes it first; `"create_new"` leaves it and
  makes another without changing `wandb.run`;
- inside `wbrun -- CMD` (WBRUN_RUN_DIR set): the first `init()` joins the wrapper's run; once
  that joined run was finished (the `sdk-finished` marker in its folder), or while this
  process still holds it and asks for `"create_new"`, a new run of its own is started in the
  wrapper's store, linked to the wrapper's run (`parent`, and its group unless one is given);
- otherwise a new run in `<dir>/wandb` (W&B's meaning of `dir`: the folder that HOLDS
  `wandb/`), else `$WBRUN_DIR`, else `$WANDB_DIR/wandb`, else `./wandb`.
"""
from __future__ import annotations

import atexit
import os
import sys
import threading
from pathlib import Path
from typing import Any

from wandb_cli.errors import RunExists, WbrunError
from wandb_cli.sdk import run as sdk_run
from wandb_cli.sdk.config import config_dict
from wandb_cli.sdk.settings import as_settings, warn_ignored, warn_once
from wandb_cli.store import jsonio
from wandb_cli.store.layout import (
    CONFIG,
    DEFAULT_DIRNAME,
    SDK_ATTACHED,
    SDK_FINISHED,
    Store,
    sdk_writing,
    update_run_doc,
)
from wandb_cli.store.model import FAILED, KILLED
from wandb_cli.store.recorder import LiveRun, RunSpec, Ticker, start_run

REINIT_MODES = ("default", "return_previous", "finish_previous", "create_new")
# W&B's environment variables for init()'s arguments (used when the argument is not given)
ENV_DEFAULTS = {"project": "WANDB_PROJECT", "entity": "WANDB_ENTITY", "name": "WANDB_NAME",
                "notes": "WANDB_NOTES", "group": "WANDB_RUN_GROUP", "job_type": "WANDB_JOB_TYPE",
                "id": "WANDB_RUN_ID", "resume": "WANDB_RESUME"}
SETTING_NAMES = {"project": "project", "entity": "entity", "name": "run_name", "notes": "run_notes",
                 "group": "run_group", "job_type": "run_job_type", "id": "run_id",
                 "tags": "run_tags", "resume": "resume", "mode": "mode", "dir": "root_dir",
                 "save_code": "save_code", "sync_tensorboard": "sync_tensorboard"}


def init(entity: str | None = None, project: str | None = None, dir: str | os.PathLike | None = None,
         id: str | None = None, name: str | None = None, notes: str | None = None,
         tags: Any = None, config: Any = None, config_exclude_keys: Any = None,
         config_include_keys: Any = None, allow_val_change: bool | None = None,
         group: str | None = None, job_type: str | None = None, mode: str | None = None,
         force: bool | None = None, reinit: Any = None, resume: Any = None,
         resume_from: str | None = None, fork_from: str | None = None,
         save_code: bool | None = None, tensorboard: bool | None = None,
         sync_tensorboard: bool | None = None, monitor_gym: bool | None = None,
         settings: Any = None, anonymous: str | None = None, **unknown: Any) -> sdk_run.Run:
    """Start a run (or join the one `wbrun -- CMD` is recording) and return it.

    Every keyword of W&B's `init` is accepted; the module docstring says which run it gives."""
    args = dict(locals())
    args.pop("unknown")
    return start_from_arguments(args, unknown)


def start_from_arguments(args: dict[str, Any], unknown: dict[str, Any]) -> sdk_run.Run:
    """The run that `wandb.init(**args)` gives (see the module docstring)."""
    settings = as_settings(args.pop("settings", None))
    for name in unknown:
        warn_once(name, f"wandb.init() got an unknown keyword {name!r}; it has no effect")
    for name in ("resume_from", "fork_from", "monitor_gym", "anonymous"):
        if args.get(name):
            warn_ignored(name)
    _fill_defaults(args, settings)
    mode = args["mode"] or os.environ.get("WBRUN_MODE") or os.environ.get("WANDB_MODE")
    reinit = _reinit_mode(args["reinit"] if args["reinit"] is not None
                          else settings.given().get("reinit"))
    config = config_dict(args["config"], exclude=args["config_exclude_keys"],
                         include=args["config_include_keys"])
    jsonio.dumps(config)  # refuse unserializable config before writing anything
    current = sdk_run.current()
    if current is not None and not current._finished:
        if reinit == "return_previous":
            return current
        if reinit == "finish_previous":
            current.finish()
    if mode == "disabled":
        run = sdk_run.Run(None, config, joined=False)
    else:
        run = _new_or_joined(args, config, current if reinit == "create_new" else None)
    run._settings = settings
    if reinit != "create_new":
        sdk_run.set_current(run)
    _after_start(run, args)
    return run


def _fill_defaults(args: dict, settings) -> None:
    given = settings.given()
    for key, setting in SETTING_NAMES.items():
        if args.get(key) is None and given.get(setting) is not None:
            args[key] = given[setting]
    for key, variable in ENV_DEFAULTS.items():
        if args.get(key) is None and os.environ.get(variable):
            args[key] = os.environ[variable]
    if args.get("tags") is None and os.environ.get("WANDB_TAGS"):
        args["tags"] = [t.strip() for t in os.environ["WANDB_TAGS"].split(",") if t.strip()]
    if isinstance(args.get("tags"), str):
        args["tags"] = [args["tags"]]
    if args.get("tags") is not None:
        args["tags"] = sdk_run.checked_tags(args["tags"])


def _reinit_mode(value: Any) -> str:
    if value is True:
        return "finish_previous"
    if value is None or value is False or value == "default":
        return "return_previous"  # W&B's default outside notebooks
    if value not in REINIT_MODES:
        from wandb_cli.errors import UsageError

        raise UsageError(f"bad reinit {value!r}: choose one of {', '.join(REINIT_MODES)}")
    return str(value)


def _new_or_joined(args: dict, config: dict, holding) -> sdk_run.Run:
    wrapped = os.environ.get("WBRUN_RUN_DIR")
    chosen = {key: args[key] for key in ("name", "project", "entity", "notes", "group", "job_type")}
    if wrapped:
        run_dir = Path(wrapped)
        still_held = holding is not None and holding._joined
        other = _another_id(run_dir, args["id"])
        if other:  # init(id="abc", resume=...): that run, as the program asked (a checkpoint
            # resume), of its own in the wrapper's store and linked to the wrapper's run
            print(f"wbrun: init(id={other!r}) under `wbrun --`: recorded as that run, of its own "
                  f"(parent: the wrapper's run {_wrapped_id(run_dir)})", file=sys.stderr)
            return _child_of_wrapped(run_dir, args, config)
        if not (run_dir / SDK_FINISHED).exists() and not still_held:
            return join_wrapped(run_dir, config, list(args["tags"] or []), chosen)
        return _child_of_wrapped(run_dir, args, config)
    store = Store(store_root(args["dir"]))
    return _auto_resumed(store, args, _spec(args, config), sample=True)


# W&B's file for resume="auto" (and True without an ID), at the same place: the run this
# folder's last such init() started, removed when that run finishes well
AUTO_RESUME = "wandb-resume.json"


def _auto_resumed(store: Store, args: dict, spec: RunSpec, *, sample: bool) -> sdk_run.Run:
    """start_new, where resume="auto"/True without an ID resumes the run the last such
    init() here left unfinished (crashed, killed, failed), as W&B does."""
    auto = args["resume"] in ("auto", True) and not args["id"]
    if auto:
        spec.id = _unfinished_auto_run(store)
    try:
        run = start_new(store, spec, sample=sample)
    except RunExists:  # that run is going on in another process: this one starts anew
        if not auto or spec.id is None:
            raise
        spec.id = None
        run = start_new(store, spec, sample=sample)
    if auto and run._live is not None:
        path = store.root / AUTO_RESUME
        try:
            jsonio.write_json_atomic(path, {"run_id": run.id})
        except (OSError, WbrunError):
            return run
        run._finish_hooks.append(lambda: _forget_auto_run(path, run))
    return run


def _unfinished_auto_run(store: Store) -> str | None:
    from wandb_cli.store.ids import validate_id

    try:
        remembered = jsonio.read_json(store.root / AUTO_RESUME, {}) or {}
        run_id = validate_id(str(remembered.get("run_id")))
    except Exception:  # unreadable, or no ID in it: start afresh
        return None
    return run_id if store.dir_of(run_id) is not None else None


def _forget_auto_run(path: Path, run: sdk_run.Run) -> None:
    """The run ended well: the next resume="auto" starts a new one."""
    if run._outcome is None or run._outcome[0] != "finished":
        return
    try:
        if (jsonio.read_json(path, {}) or {}).get("run_id") == run.id:
            path.unlink()
    except (OSError, ValueError):
        pass


def _another_id(run_dir: Path, wanted: Any) -> str | None:
    """The ID init() asked for where it is not the wrapper's run's (None: join or follow).
    An ID that is $WANDB_RUN_ID's (exported for the whole job) joins, as before."""
    if not wanted or str(wanted) in (os.environ.get("WANDB_RUN_ID"), _wrapped_id(run_dir)):
        return None
    return str(wanted)


def _wrapped_doc(run_dir: Path) -> dict:
    """The wrapper's run document ({} where it cannot be read)."""
    try:
        doc = jsonio.read_json(run_dir / "files" / "wbrun-run.json", {}) or {}
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _wrapped_id(run_dir: Path) -> str | None:
    """The wrapper's run ID: WBRUN_RUN_ID, which the wrapper sets, else its document's (a
    folder's name cannot tell it: `--id my-exp`, a `-1` suffix)."""
    return os.environ.get("WBRUN_RUN_ID") or _wrapped_doc(run_dir).get("id")


def _child_of_wrapped(run_dir: Path, args: dict, config: dict) -> sdk_run.Run:
    """A second run of a wrapped program: in the wrapper's store, linked to its run."""
    parent = _wrapped_doc(run_dir)
    spec = _spec(args, config)
    if spec.group is None:
        spec.group = parent.get("group")
    spec.extra["parent"] = parent.get("id") or os.environ.get("WBRUN_RUN_ID")
    # the wrapper's store, unless init(dir=) names another; the wrapper samples the whole
    # process tree already: no second sampler
    store = Store(store_root(args["dir"]) if args.get("dir") else run_dir.parent)
    return _auto_resumed(store, args, spec, sample=False)


def _spec(args: dict, config: dict) -> RunSpec:
    from wandb_cli.runner.metadata import redact_command

    resume = args["resume"]
    resume_mode = {True: "allow", False: "never", None: "never", "auto": "allow"}.get(resume, resume)
    return RunSpec(project=args["project"], entity=args["entity"], name=args["name"], id=args["id"],
                   notes=args["notes"], tags=list(args["tags"] or []), group=args["group"],
                   job_type=args["job_type"], config=config, resume=resume_mode,
                   command=redact_command([sys.executable, *sys.argv]))


def store_root(dir_arg: str | os.PathLike | None) -> Path:
    """W&B's `dir`: the folder that holds `wandb/` (see the module docstring)."""
    if dir_arg is not None and str(dir_arg) != "":
        return Path(dir_arg).expanduser().absolute() / DEFAULT_DIRNAME
    if os.environ.get("WBRUN_DIR"):
        return Path(os.environ["WBRUN_DIR"]).expanduser().absolute()
    if os.environ.get("WANDB_DIR"):
        return Path(os.environ["WANDB_DIR"]).expanduser().absolute() / DEFAULT_DIRNAME
    return Path.cwd() / DEFAULT_DIRNAME


def mark_joined_finished(run_dir: Path, outcome: tuple[str, int] | None = None) -> None:
    """The program finished the run it joined: its next init() starts a run of its own.
    The marker holds the outcome finish() gave ({"state", "exit_code"}): a failure the
    program reported (finish(exit_code=2), an exception out of `with init()`) stands even
    if the process then exits 0 (runner/supervise.py reads it)."""
    if (run_dir / SDK_ATTACHED).exists():
        state, code = outcome or ("finished", 0)
        multiprocessing = sys.modules.get("multiprocessing")
        if multiprocessing is not None and multiprocessing.parent_process() is not None:
            state, code = "finished", 0  # a worker's failure is not the program's outcome
        jsonio.write_json_atomic(run_dir / SDK_FINISHED, {"state": state, "exit_code": code})


def _after_start(run: sdk_run.Run, args: dict) -> None:
    if run._live is None:
        return
    if args.get("save_code"):
        from wandb_cli.sdk import extras

        extras.save_main_program(run)
    if args.get("sync_tensorboard") or args.get("tensorboard"):
        _patch_tensorboard(run)


def _patch_tensorboard(run: sdk_run.Run) -> None:
    import importlib

    try:  # the media wing may not be part of this build
        tensorboard = importlib.import_module("wandb_cli.media.tensorboard")
    except ImportError:
        warn_ignored("sync_tensorboard")
        return
    tensorboard.start_sync(run)


def start_new(store: Store, spec: RunSpec, *, sample: bool) -> sdk_run.Run:
    """A run this process records (its state, heartbeat, exit hooks)."""
    from wandb_cli.runner.sampler import system_interval

    interval = system_interval(None, dict(os.environ))  # a bad value: refused before the run exists
    live = start_run(store, spec, pid=os.getpid(), recorder="sdk")
    meta = _metadata_thread(live, spec.command)
    run = sdk_run.Run(live, spec.config if not live.doc.get("resumed") else _read_config(live),
              joined=False, metadata_thread=meta)
    run._ticker = Ticker(live, on_stop=run._on_stop_request)
    run._ticker.start()
    run._sampler = _start_sampler(live, interval) if sample else None
    from wandb_cli.artifacts.runfiles import start_saver

    run._saver = start_saver(live.paths.dir)
    _install_exit_hooks()
    _finish_in_multiprocessing_child(run)
    return run


def join_wrapped(run_dir: Path, config: dict, tags: list[str], chosen: dict) -> sdk_run.Run:
    """Join the wrapper's run: config and tags merge; an attribute init() names is taken
    where the wrapper's user left it unset (a defaulted name/project/entity, no notes...)."""
    from wandb_cli.store.recorder import attach

    # the marker first: the wrapper stops turning printed lines into steps (its last batch
    # is on disk before attach() reads our first step, under the run's lock)
    others = sdk_writing(run_dir)
    (run_dir / SDK_ATTACHED).touch(mode=jsonio.FILE_MODE)
    live = attach(run_dir)
    if others:  # another process of the program joined too (a worker): steps are shared
        live.share_steps()

    def merge(doc: dict) -> None:
        doc["tags"] = list(dict.fromkeys([*doc.get("tags", []), *tags]))
        defaulted = doc.get("defaulted") or []
        for key, value in chosen.items():
            if value is not None and (not doc.get(key) or key in defaulted):
                doc[key] = value
        doc["defaulted"] = [key for key in defaulted if chosen.get(key) is None]

    live.doc = update_run_doc(live.paths, merge)
    live.seed_summary()  # (`wbrun --resume`: the run's summary so far)
    locked = _wrapper_config_keys()
    if config:
        # the wrapper's `-c`/`--config-file` values (this invocation's: a resumed run's older
        # values do not count) win over init(config=)'s, key by key (nested dicts merged),
        # as a W&B sweep's values win over a program's defaults
        saved = _read_config(live)
        given = {key: saved[key] for key in locked if key in saved}
        live.update_config({key: _prefer(given[key], value) if key in given else value
                            for key, value in config.items()})
    run = sdk_run.Run(live, _read_config(live), joined=True, locked_config=locked)
    run._finish_hooks.append(lambda: mark_joined_finished(run_dir, run._outcome))
    run._ticker = Ticker(live)
    run._ticker.start()
    _install_exit_hooks()
    _finish_in_multiprocessing_child(run)
    return run


def _wrapper_config_keys() -> frozenset[str]:
    """The config keys `wbrun -c`/`--config-file` gave the wrapper (WBRUN_CONFIG_KEYS)."""
    try:
        keys = jsonio.loads(os.environ.get("WBRUN_CONFIG_KEYS") or "[]")
    except ValueError:
        return frozenset()
    return frozenset(key for key in keys if isinstance(key, str)) if isinstance(keys, list) else frozenset()


def _prefer(chosen: Any, default: Any) -> Any:
    """`chosen` (the wrapper user's value) over `default` (the program's); where both are
    dicts, merged key by key the same way."""
    if isinstance(chosen, dict) and isinstance(default, dict):
        return {**default, **{key: _prefer(value, default[key]) if key in default else value
                              for key, value in chosen.items()}}
    return chosen


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

    if not system_enabled(dict(os.environ)):
        return None
    from wandb_cli.runner.sampler import SamplerProcess

    return SamplerProcess(str(live.paths.dir), os.getpid(), interval)


_hooks_installed = False
_exit_code: int | None = None  # the code of the last sys.exit() call, for the atexit hook


def _install_exit_hooks() -> None:
    """Once per process, however many runs it starts: an excepthook that ends the current
    run as failed (killed after Ctrl+C), a sys.exit() that remembers its code, and an atexit
    hook that ends the current run with it.  They hold no run, only look up the current one,
    so a finished run is not kept alive and a thousand init()/finish() do not nest a thousand
    wrappers."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    previous = sys.excepthook

    def excepthook(exc_type, exc, tb):
        run = sdk_run.current()
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
        _exit_code = sdk_run.exit_status(code)
        real_exit(code)

    sys.exit = exit
    atexit.register(_finish_at_exit)


def _finish_at_exit() -> None:
    run = sdk_run.current()
    if run is not None:
        run.finish(None if run._joined else _exit_code)


def _finish_in_multiprocessing_child(run: sdk_run.Run) -> None:
    """A multiprocessing worker leaves through os._exit, skipping atexit: its run is ended
    by multiprocessing's own exit finalizers instead (W&B's workers end the same way)."""
    if "multiprocessing" not in sys.modules:
        return  # no worker of a pool can be running this
    import multiprocessing.process
    import multiprocessing.util

    if multiprocessing.process.parent_process() is not None:
        multiprocessing.util.Finalize(None, run.finish, exitpriority=100)
