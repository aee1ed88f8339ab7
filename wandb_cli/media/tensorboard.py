"""`wandb.tensorboard`: record what a program writes through TensorBoard writers
(`torch.utils.tensorboard`, `tensorboardX`, `tf.summary`) into the current run's history.

    import wandb_cli as wandb
    from wandb_cli.media import tensorboard
    run = wandb.init()
    tensorboard.start_sync(run)          # what init(sync_tensorboard=True) calls
    writer = SummaryWriter("runs/exp1")  # any writer made from now on is followed

How: `patch()` wraps the writers' constructors (at once if their module is loaded, else
when it is imported: nothing heavy is imported to patch), so each new writer names its
log directory; a background thread reads that directory's new event files with
TensorBoard's own reader (tbevents.py) about once a second and logs one row per
TensorBoard step: the tags as keys, the TensorBoard step as `global_step`, wbrun's own
`_step` counting rows (W&B's rule).  With several log directories, each tag is prefixed
with its directory relative to their common root (`train/loss`, `validation/loss`).

Invariants: events written before a writer was made are not read (an old run's files in a
reused folder are not mixed in, even when the new writer appends to the same file name);
`stop_sync()` (run at finish and at exit) reads every file to its end first, so no step
written before finish is lost.
"""
from __future__ import annotations

import atexit
import importlib.abc
import importlib.util
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from wandb_cli.errors import UsageError

EVENT_WRITER_MODULES = ("tensorboard.summary.writer.event_file_writer",
                        "tensorboardX.event_file_writer")
TF2_MODULE = "tensorflow.python.ops.gen_summary_ops"
POLL_S = 1.0
NAMESPACE_WAIT_S = 3.0

_lock = threading.RLock()
_patched: list[tuple[Any, str, Any]] = []  # (owner, attribute, original)
_finder: _PatchOnImport | None = None
_sync: TensorBoardSync | None = None
_root_logdir = ""


class TensorBoardSync:
    """Follows log directories and logs their events into one run (see the module doc)."""

    def __init__(self, run: Any, root_logdir: str = "", save: bool = True, poll_s: float = POLL_S):
        self.run, self.root_logdir, self.save, self.poll_s = run, root_logdir, save, poll_s
        self._logdirs: dict[str, float] = {}  # logdir -> when its writer was made (time.time)
        self._seen_at: dict[str, float] = {}
        self._streams: dict[str, Any] = {}
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wbrun-tensorboard", daemon=True)
        self._thread.start()
        self.error: str | None = None

    def add_logdir(self, logdir: str) -> None:
        logdir = os.path.abspath(os.fsdecode(logdir))
        with _lock:
            if logdir not in self._logdirs:
                self._logdirs[logdir] = time.time()
                self._seen_at[logdir] = time.monotonic()

    def _loop(self) -> None:
        while not self._halt.wait(self.poll_s):
            self.poll()

    def poll(self, *, final: bool = False) -> None:
        try:
            with _lock:
                for row in self._new_rows(final):
                    self.run.log(row)
        except Exception as exc:  # a TensorBoard problem must not kill the training program
            if self.error is None:
                self.error = f"{type(exc).__name__}: {exc}"
                print(f"wbrun: warning: TensorBoard sync: {self.error}", file=sys.stderr)

    def _new_rows(self, final: bool) -> list[dict]:
        from wandb_cli.media.tbevents import EventStream, event_files

        rows: list[dict] = []
        for logdir, since in list(self._logdirs.items()):
            if not self._ready(logdir, final):
                continue
            for path in event_files(logdir):
                stream = self._streams.get(str(path))
                if stream is None:
                    if _mtime(path) < since - 1:
                        continue  # not written since the writer was made: an older run's
                    stream = EventStream(path, self._namespace(logdir), since)
                    self._streams[str(path)] = stream
                rows += stream.rows(final=final)
        for row in rows:
            row.pop("_tb_wall_time", None)
        return rows

    def _ready(self, logdir: str, final: bool) -> bool:
        """A lone folder is read after a short wait, in case a sibling (train/validation)
        comes along and the tags need its namespace (W&B waits for one too)."""
        return (final or len(self._logdirs) > 1 or bool(self.root_logdir)
                or time.monotonic() - self._seen_at[logdir] >= NAMESPACE_WAIT_S)

    def _namespace(self, logdir: str) -> str:
        root = self.root_logdir or (os.path.commonpath(list(self._logdirs))
                                    if len(self._logdirs) > 1 else logdir)
        relative = os.path.relpath(logdir, os.path.abspath(root))
        return "" if relative == "." or relative.startswith("..") else relative.replace(os.sep, "/")

    def stop(self) -> None:
        """Read every followed file to its end, log the last steps, stop following."""
        if self._halt.is_set():
            return
        self._halt.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)
        self.poll(final=True)
        if self.save:
            self._copy_event_files()

    def _copy_event_files(self) -> None:
        """W&B keeps the event files with the run: copied to files/tensorboard/<logdir>/."""
        import shutil

        files_dir = getattr(self.run, "dir", "")
        if not files_dir:
            return
        for stream in self._streams.values():
            sub = stream.namespace or Path(stream.path).parent.name
            target = Path(files_dir) / "tensorboard" / sub / Path(stream.path).name
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(stream.path, target)
            except OSError as exc:
                print(f"wbrun: warning: cannot keep {stream.path}: {exc.strerror}", file=sys.stderr)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


# --- public API (W&B's wandb.tensorboard, plus what init(sync_tensorboard=True) calls) ----
def patch(save: bool = True, tensorboard_x: bool | None = None, pytorch: bool | None = None,
          root_logdir: str = "") -> None:
    """Follow every TensorBoard writer made from now on (W&B's `wandb.tensorboard.patch`)."""
    global _finder, _root_logdir
    with _lock:
        if _patched or _finder is not None:
            raise UsageError("TensorBoard already patched. Call `wandb.tensorboard.unpatch()` "
                             "first, or drop `sync_tensorboard=True` from `wandb.init`.")
        _root_logdir = root_logdir or ""
        _finder = _PatchOnImport({name: _patch_writer_class for name in EVENT_WRITER_MODULES}
                                 | {TF2_MODULE: _patch_tf2})
        for name, patcher in _finder.targets.items():
            if name in sys.modules:
                patcher(sys.modules[name])
        sys.meta_path.insert(0, _finder)


def unpatch() -> None:
    """Undo `patch()`: writers made from now on are not followed."""
    global _finder
    with _lock:
        for owner, attribute, original in reversed(_patched):
            setattr(owner, attribute, original)
        _patched.clear()
        if _finder is not None and _finder in sys.meta_path:
            sys.meta_path.remove(_finder)
        _finder = None


def start_sync(run: Any, logdir: str | os.PathLike | None = None, root_logdir: str = "",
               save: bool = True) -> TensorBoardSync:
    """Record the TensorBoard writers of this process into `run` (init(sync_tensorboard=True)):
    patches the writers unless already patched; `logdir` also follows one folder directly
    (event files written by another process)."""
    global _sync
    with _lock:
        if not _patched and _finder is None:
            patch(save=save, root_logdir=root_logdir)
        if _sync is not None and _sync.run is not run:
            _sync.stop()
        if _sync is None or _sync.run is not run:
            _sync = TensorBoardSync(run, root_logdir or _root_logdir, save)
            _stop_before_finish(run, _sync)
        if logdir is not None:
            _sync.add_logdir(str(logdir))
        return _sync


def stop_sync() -> None:
    """Log what the followed event files still hold and stop following them."""
    global _sync
    with _lock:
        sync, _sync = _sync, None
    if sync is not None:
        sync.stop()


def _stop_before_finish(run: Any, sync: TensorBoardSync) -> None:
    """The run's finish (and interpreter exit) first drains the event files."""
    finish = getattr(run, "finish", None)
    if callable(finish) and not getattr(finish, "_wbrun_tb", False):
        def finish_after_sync(*args: Any, **kwargs: Any) -> Any:
            sync.stop()
            return finish(*args, **kwargs)

        finish_after_sync._wbrun_tb = True  # type: ignore[attr-defined]
        try:
            run.finish = finish_after_sync
        except AttributeError:
            pass
    atexit.register(sync.stop)  # runs before the SDK's own exit hook (registered earlier)


def _logdir_seen(logdir: Any) -> None:
    """A writer was made for `logdir`: follow it in the current run (if any)."""
    if _sync is not None:
        _sync.add_logdir(logdir)
        return
    from wandb_cli.media import current_run

    current = current_run()
    if current is not None:
        start_sync(current).add_logdir(logdir)


# --- patching the writers ------------------------------------------------------------
def _patch_writer_class(module: Any) -> None:
    writer = getattr(module, "EventFileWriter", None)
    if writer is None or getattr(writer.__init__, "_wbrun_tb", False):
        return
    original = writer.__init__

    def __init__(self: Any, logdir: Any, *args: Any, **kwargs: Any) -> None:
        _logdir_seen(logdir)
        original(self, logdir, *args, **kwargs)

    __init__._wbrun_tb = True  # type: ignore[attr-defined]
    writer.__init__ = __init__
    _patched.append((writer, "__init__", original))


def _patch_tf2(module: Any) -> None:
    original = getattr(module, "create_summary_file_writer", None)
    if original is None or getattr(original, "_wbrun_tb", False):
        return

    def create_summary_file_writer(*args: Any, **kwargs: Any) -> Any:
        logdir: Any = kwargs.get("logdir", args[1] if len(args) > 1 else None)
        if hasattr(logdir, "numpy"):
            logdir = logdir.numpy()
        if isinstance(logdir, bytes):
            logdir = logdir.decode("utf-8")
        if logdir:
            _logdir_seen(logdir)
        return original(*args, **kwargs)

    create_summary_file_writer._wbrun_tb = True  # type: ignore[attr-defined]
    module.create_summary_file_writer = create_summary_file_writer
    _patched.append((module, "create_summary_file_writer", original))


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches a writer module right after it is imported (nothing is imported early)."""

    def __init__(self, targets: dict[str, Callable[[Any], None]]):
        self.targets = targets
        self._busy: set[str] = set()

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in self.targets or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._busy.discard(fullname)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _PatchingLoader(spec.loader, self.targets[fullname])
        return spec


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, inner: Any, after: Callable[[Any], None]):
        self._inner, self._after = inner, after

    def create_module(self, spec: Any) -> Any:
        return self._inner.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._inner.exec_module(module)
        with _lock:
            self._after(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
