"""The live side of a run: starting or resuming it, appending its history and events,
keeping its state record and heartbeat, and ending it.

Invariants: every history line is handed to the OS (one write call) before `log()` returns,
so a kill -9 loses nothing that was logged.  Steps only ever increase.  Summary and state are
merged into their documents under the run's lock, so a concurrent `wbrun runs tag` or another
writer in the same run never loses an update.
"""
from __future__ import annotations

import getpass
import os
import sys
import threading
import warnings
import weakref
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Callable

from wandb_cli.errors import RunExists, RunNotFound, StoreError, UsageError
from wandb_cli.store import alive, cluster, jsonio, proc
from wandb_cli.store.alive import AliveLock
from wandb_cli.store.ids import new_name, validate_id, validate_name
from wandb_cli.store.layout import (
    CONFIG,
    DEFAULT_PROJECT,
    EVENTS,
    FORMAT_VERSION,
    HEARTBEAT_INTERVAL_S,
    HISTORY,
    HISTORY_KEYS,
    RUN_DOC,
    SDK_ATTACHED,
    STARTING,
    SUMMARY,
    RunPaths,
    Store,
    heartbeat_timeout,
    is_crashed,
    merge_json_doc,
    open_lock_file,
    sdk_writing,
    update_run_doc,
)
from wandb_cli.store.metrics import SummaryRules, read_definitions
from wandb_cli.store.model import CRASHED, ENDED_STATES, RUNNING

RESUME_MODES = ("never", "allow", "must")
STOP_REQUEST = "stop-request"
# in the run folder: a second process writes the history (LiveRun._write_row)
SHARED_STEPS = "shared-steps"
SHARE_CHECK_S = 0.05
SHARE_GRACE_S = 0.25  # > SHARE_CHECK_S with room for a writer descheduled meanwhile
_pid_now = os.getpid
_LIVE_RUNS: weakref.WeakSet = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for live in list(_LIVE_RUNS):
        live._share_check = 0.0  # its next row looks (and finds itself a forked second writer)
        # the parent's lock file is the same open file here: flock would not exclude the two
        # (and our unlock would release the parent's lock); a lock of a parent's thread is
        # never released here
        if live._lock_fd is not None:
            try:
                os.close(live._lock_fd)  # (our copy only: the parent's lock stays)
            except OSError:
                pass
            live._lock_fd = None
        live._history_end = None
        live._row_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@dataclass
class RunSpec:
    """What the user asked for when starting a run (CLI options or init() arguments)."""

    project: str | None = None
    entity: str | None = None
    name: str | None = None
    id: str | None = None
    notes: str | None = None
    tags: list[str] = field(default_factory=list)
    group: str | None = None
    job_type: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    resume: str = "never"
    command: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # more attributes: parent, wandb_compat


def start_run(store: Store, spec: RunSpec, *, pid: int, recorder: str) -> LiveRun:
    """Create the run `spec` describes, or resume it, per W&B's resume rules."""
    if spec.resume not in RESUME_MODES:
        raise UsageError(f"bad --resume {spec.resume!r}: choose never, allow or must")
    if spec.id is not None:
        validate_id(spec.id)
    if spec.name:
        validate_name(spec.name, control_chars_ok=True)  # shown escaped, as ever
    if spec.id and store.read_claim(spec.id) is not None and store.dir_of(spec.id) is None:
        # being created by another process (a resume waits for it), or a creation that
        # died (a kill -9, a full disk): that ID is free again
        if spec.resume != "never":
            _wait_for_creation(store, spec.id)
        if store.dir_of(spec.id) is None:
            store.take_stale_claim(spec.id)
    if spec.id and store.read_claim(spec.id) is not None:
        if spec.resume == "never" or store.dir_of(spec.id) is None:
            raise store.id_taken_error(spec.id)
        return _resume(store, spec, pid=pid, recorder=recorder)
    if spec.resume == "must":
        if not spec.id:
            raise UsageError("--resume must needs a run ID (--id)")
        raise RunNotFound(f"no run with ID {spec.id!r} to resume (--resume must)")
    try:
        run_id = store.claim_new_id(spec.id)
    except RunExists:
        if spec.resume == "allow":  # another process created it a moment ago
            return _resume(store, spec, pid=pid, recorder=recorder)
        raise
    return _create(store, spec, run_id, pid=pid, recorder=recorder)


def _wait_for_creation(store: Store, run_id: str, seconds: float = 10.0) -> None:
    """Until `run_id`'s run exists, while a live process is creating it (a claim that is
    not stale); at most `seconds`."""
    import time

    deadline = time.monotonic() + seconds
    while store.dir_of(run_id) is None and time.monotonic() < deadline:
        claim = store.read_claim(run_id)
        if claim is None or claim.get("status") != STARTING or store.stale_claim(run_id):
            return
        time.sleep(0.05)


def _create(store: Store, spec: RunSpec, run_id: str, *, pid: int, recorder: str) -> LiveRun:
    """Create the run whose ID this process just claimed; if that fails, nothing is left:
    neither the claim (the ID is free again) nor a folder without a run document."""
    run_dir = None
    try:
        now = store.clock()
        project = spec.project or DEFAULT_PROJECT
        sequence = store.next_sequence(project)
        run_dir = store.make_run_dir(run_id, now)
        store.claim_folder(run_id, run_dir)
        return _write_new_run(store, spec, run_id, run_dir, now, project, sequence, pid=pid,
                              recorder=recorder)
    except BaseException:
        if run_dir is not None:
            import shutil

            shutil.rmtree(run_dir, ignore_errors=True)
        store.unclaim(run_id, run_dir)
        raise


def _write_new_run(store: Store, spec: RunSpec, run_id: str, run_dir, now: float, project: str,
                   sequence: int, *, pid: int, recorder: str) -> LiveRun:
    paths = RunPaths(run_dir)
    slurm, dist = cluster.slurm_identity(store.env), cluster.dist_identity(store.env)
    holder = AliveLock(run_dir).acquire(run_id)  # before the run can read as running
    doc = {
        "format": FORMAT_VERSION, "id": run_id,
        "name": spec.name or new_name(sequence), "sequence": sequence,
        "project": project, "entity": spec.entity or _user(),
        "group": spec.group if spec.group is not None else cluster.default_group(store.env),
        "job_type": spec.job_type,
        "tags": list(dict.fromkeys(spec.tags)), "notes": spec.notes,
        "created": now, "command": spec.command, "host": store.host,
        # what was not chosen by the user: an SDK joining the run may still set it
        "defaulted": [key for key in ("name", "project", "entity") if not getattr(spec, key)],
        **({"slurm": slurm} if slurm else {}), **({"dist": dist} if dist else {}),
        **_recorder_fields(pid, recorder, now, store.monotonic(), 0.0),
        "segments": [{"start": now, "seconds": 0.0}],
        **{key: value for key, value in spec.extra.items() if value is not None},
    }
    try:
        jsonio.write_json_atomic(paths.file(CONFIG), spec.config)
        jsonio.write_json_atomic(paths.file(SUMMARY), {})
        doc["runtime_origin"] = now
        jsonio.write_json_atomic(paths.file(RUN_DOC), doc)
        store.write_claim(run_id, {"dir": run_dir.name, "status": "live"})
    except BaseException:
        holder.release()
        raise
    store.point_latest(run_dir)
    return LiveRun(store, paths, doc, step=0, owns_state=True, alive=holder)


def _resume(store: Store, spec: RunSpec, *, pid: int, recorder: str) -> LiveRun:
    assert spec.id is not None  # only called for a claimed id
    run_dir = store.dir_of(spec.id)
    if run_dir is None:
        raise store.id_taken_error(spec.id)
    record = store.read(run_dir)
    if record.state == RUNNING:
        raise RunExists(f"run {spec.id!r} is still running (pid {record.pid} on {record.host})")
    paths = RunPaths(run_dir)
    now = store.clock()
    last = jsonio.last_jsonl_row(paths.file(HISTORY)) or {}
    runtime_before = float(last.get("_runtime") or record.runtime or 0.0)

    def reopen(doc: dict) -> None:
        # judged again under the lock: two resumes at once must not both become recorders.
        # We hold the run's alive lock now, so a recorder under this kernel is gone; one
        # recorded elsewhere (or by an older wbrun) is judged by its pid or heartbeat.
        same_kernel = bool(doc.get("boot_id")) and doc.get("boot_id") == alive.boot_id()
        if doc.get("state") == RUNNING and not same_kernel and not is_crashed(
                doc, host=store.host, now=now, stale_after=heartbeat_timeout(store.env)):
            raise RunExists(f"run {spec.id!r} is still running (pid {doc.get('pid')} on "
                            f"{doc.get('host')})")
        doc.update(_recorder_fields(pid, recorder, now, store.monotonic(), runtime_before))
        doc["resumed"] = int(doc.get("resumed", 0)) + 1
        doc["runtime_origin"] = now - runtime_before
        segments: list = doc["segments"] if isinstance(doc.get("segments"), list) else []
        if not segments and record.runtime:  # recorded before segments: its time so far
            segments = [{"start": record.created, "seconds": record.runtime}]
        doc["segments"] = [*segments, {"start": now, "seconds": 0.0}]
        for key in ("notes", "group", "job_type"):
            if getattr(spec, key) is not None:
                doc[key] = getattr(spec, key)
        doc["tags"] = list(dict.fromkeys([*doc.get("tags", []), *spec.tags]))
        for scope, identity in (("slurm", cluster.slurm_identity(store.env)),
                                ("dist", cluster.dist_identity(store.env))):
            if identity:  # a requeued job resumes with its new restart count and nodes
                doc[scope] = identity
        doc.update({key: value for key, value in spec.extra.items() if value is not None})

    holder = AliveLock(run_dir).acquire(str(spec.id))
    try:
        doc = update_run_doc(paths, reopen)
    except BaseException:
        holder.release()
        raise
    (paths.dir / STOP_REQUEST).unlink(missing_ok=True)  # meant for the run's previous life
    if spec.config:
        merge_json_doc(paths, CONFIG, spec.config)
    step = _next_step(paths)
    live = LiveRun(store, paths, doc, step=step, owns_state=True, alive=holder)
    live.seed_summary()
    return live


def attach(run_dir, *, clock=None) -> LiveRun:
    """A writer for a run another process records (the SDK inside `wbrun --`, `wbrun log`)."""
    import time
    from pathlib import Path

    run_dir = Path(run_dir)
    paths = RunPaths(run_dir)
    try:
        doc = jsonio.read_json(paths.file(RUN_DOC), None)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or "id" not in doc:
        raise StoreError(f"{run_dir} is not a readable run folder")
    store = Store(run_dir.parent, clock=clock or time.time)
    with paths.lock():  # (after a printed batch the wrapper is appending, never beside it)
        step = _next_step(paths)
    return LiveRun(store, paths, doc, step=step, owns_state=False)


def _next_step(paths: RunPaths) -> int:
    last = jsonio.last_jsonl_row(paths.file(HISTORY)) or {}
    return last["_step"] + 1 if isinstance(last.get("_step"), int) else 0


def _recorder_fields(pid: int, recorder: str, now: float, monotonic_now: float,
                     runtime_before: float) -> dict:
    """`boot_id` tells readers whether the alive lock speaks for this kernel (alive.py);
    `monotonic_origin` is the monotonic time at which `_runtime` is 0, for processes that
    join the run under the same boot (the SDK inside `wbrun --`, `wbrun log`)."""
    return {"state": RUNNING, "pid": pid, "pid_start": proc.start_token(pid),
            "recorder": recorder, "heartbeat": now, "exit_code": None, "ended": None,
            "boot_id": alive.boot_id(), "monotonic_origin": monotonic_now - runtime_before}


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


class LiveRun:
    """Writes one live run.  `owns_state` is False when joining a run another process records."""

    def __init__(self, store: Store, paths: RunPaths, doc: dict, *, step: int, owns_state: bool,
                 alive: AliveLock | None = None):
        self.store, self.paths, self.doc = store, paths, doc
        self.id, self.name = doc["id"], doc["name"]
        self.owns_state = owns_state
        self._alive = alive  # held by the run's recorder until its end is written
        self._clock, self._monotonic = store.clock, store.monotonic
        self._t0 = float(doc.get("runtime_origin") or doc.get("created") or self._clock())
        # _runtime and upkeep run on the monotonic clock: a wall clock stepped back (NTP, a
        # VM resumed) must not make _runtime negative or stall heartbeats
        self._t0_mono = _monotonic_origin(doc, self._t0, self._clock(), self._monotonic())
        self._segment_t0 = self._monotonic()
        self._step = step
        self._pending: dict[str, Any] = {}
        self._history = jsonio.AppendFile(paths.file(HISTORY))
        # log()'s rows are numbered in memory while this process is the history's only
        # writer.  A second one (a worker joining the run, `wbrun log` beside the SDK) first
        # leaves the SHARED_STEPS marker and waits SHARE_GRACE_S; we look for it at most
        # every SHARE_CHECK_S, and once it is there number each row under the run's lock,
        # after the history's last step whenever the history grew since our last row
        # (_history_end: its size after that row; None: not known)
        self._shared = False
        self._share_check = 0.0
        self._pid = os.getpid()
        _LIVE_RUNS.add(self)
        self._history_end: int | None = None
        self._row_lock = threading.Lock()
        self._lock_fd: int | None = None
        self._events: jsonio.AppendFile | None = None
        self._summary: dict[str, Any] = {}
        self._summary_dirty: set[str] = set()
        # define_metric rules: how logged values fold into the summary (store/metrics.py)
        self.summary_rules = SummaryRules(read_definitions(paths.files))
        self._lock = threading.Lock()
        self.ended = False
        self.write_error: str | None = None
        # (data, step) -> data to store: set by the SDK for values that are not JSON types
        # (media, arrays); called only for such rows, so plain rows cost nothing more
        self.encode_values: Callable[[dict, int], dict] | None = None

    @property
    def step(self) -> int:
        return self._step

    # --- history ------------------------------------------------------------------------
    def log(self, data: dict, step: int | None = None, commit: bool | None = None) -> None:
        """W&B's rules: commit=False accumulates; step= jumps forward; a lower step is dropped."""
        if step is None and commit is None and not self._pending:
            self._write_row(data)
            return
        if not isinstance(data, dict):
            raise TypeError("log() takes a dict of metrics")
        if step is not None:
            step = int(step)
            if step < self._step:
                warnings.warn(f"wbrun: step {step} is below the current step {self._step}; "
                              "those values were dropped", stacklevel=_caller_level())
                return
            if step > self._step:
                self._commit_pending()
                self._step = step
        self._pending.update(data)
        if commit or (commit is None and step is None):
            self._commit_pending()

    def _commit_pending(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, {}
            self._write_row(pending)

    def _write_row(self, data: dict) -> None:
        """A row of log()'s: numbered in memory while no other writer has come (a clock read
        a row, and a stat every SHARE_CHECK_S), else under the run's lock (flock on an open
        file kept for it), after the last step in the file: several processes logging into
        one run share its steps, never a step twice, no row dropped.  Values are encoded
        (media written) before the lock is taken and before we look for another writer: the
        encoding may take seconds, and may itself take the run's lock (a chart's spec)."""
        step = self._step
        stored, line, runtime, stamp = self._line(data, step)
        if not self._shared and (self._monotonic() < self._share_check or self._alone()):
            self._emit(line, stored)
            return
        with self._row_lock:
            fd = self._lock_fd
            if fd is None and not _HAVE_FLOCK:  # (Windows: filelock, taken for each row)
                with self.paths.lock():
                    self._emit_after_others(stored, line, step, runtime, stamp)
                return
            if fd is None:
                fd = self._lock_fd = open_lock_file(self.paths.lock_path)  # (for the writer's life)
            try:
                flock(fd, LOCK_EX | LOCK_NB)
            except BlockingIOError:
                flock(fd, LOCK_EX)  # held by another writer for one append or document update
            try:
                self._emit_after_others(stored, line, step, runtime, stamp)
            finally:
                flock(fd, LOCK_UN)

    def _alone(self) -> bool:
        """Whether this process is still the history's only writer (looked at on disk; the
        caller skips this until SHARE_CHECK_S has passed since the last look); once not, it
        numbers its rows under the lock for good."""
        self._share_check = self._monotonic() + SHARE_CHECK_S
        forked = _pid_now() != self._pid  # a forked child writing: the parent may write too
        if not forked and not os.path.exists(self.paths.dir / SHARED_STEPS):
            return True
        if forked:
            self.share_steps()
        self._shared = True
        return False

    def _emit_after_others(self, stored: dict, line: bytes, step: int, runtime: float,
                           stamp: float) -> None:
        """Under the run's lock: the row goes after the history's last step."""
        self._after_others()
        if self._step != step:
            row = history_row(stored, self._step, runtime, stamp)
            try:
                line = jsonio.dumps_plain(row)
            except (TypeError, jsonio.NotPlain):
                line = encode_row(row)
        self._emit(line, stored)

    def _after_others(self) -> None:
        """Under the run's lock: if the history changed since our last row (another writer),
        go on after its last step (a step= below it moves up: no row is dropped)."""
        size = os.lseek(self._history.fd, 0, os.SEEK_END)
        if size != self._history_end:
            self._step = max(self._step, _next_step(self.paths))
        self._history_end = size

    def share_steps(self) -> None:
        """Before this writer's first row in a history another process may be writing: leave
        the SHARED_STEPS marker and give that writer SHARE_GRACE_S (from the marker's making)
        to see it and turn to numbering under the lock; then number our own rows so too."""
        marker = self.paths.dir / SHARED_STEPS
        try:
            os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, jsonio.FILE_MODE))
            wait = SHARE_GRACE_S
        except FileExistsError:
            try:
                wait = SHARE_GRACE_S - (self._clock() - os.stat(marker).st_mtime)
            except OSError:
                wait = SHARE_GRACE_S
        except OSError as exc:
            raise StoreError(f"cannot write {marker}: {exc.strerror}") from None
        if wait > 0:
            import time

            time.sleep(min(wait, SHARE_GRACE_S))
        self._shared = True

    def _line(self, data: dict, step: int) -> tuple[dict, bytes, float, float]:
        """The history line of `data` at `step`: (the values stored, the line, its _runtime
        and _timestamp).  Media and arrays are encoded here (files written, named by step)."""
        runtime, stamp = self.runtime_s(), round(self._clock(), 3)
        row = history_row(data, step, runtime, stamp)
        try:
            return data, jsonio.dumps_plain(row), runtime, stamp
        except TypeError:  # e.g. nested too deeply: said with the key, as for any bad value
            return data, encode_row(row), runtime, stamp
        except jsonio.NotPlain:
            if self.encode_values is not None:
                data = self.encode_values(data, step)
                row = history_row(data, step, runtime, stamp)
            return data, encode_row(row), runtime, stamp

    def _emit(self, line: bytes, stored: dict) -> None:
        """Append the line; the summary takes the values as stored (media encoded)."""
        written = self._history.write_line(line)
        if self._history_end is not None:
            self._history_end += written
        self._step += 1
        with self._lock:
            self._summary_dirty.update(self.summary_rules.update(self._summary, stored))

    def append_step(self, metrics: dict, step: int | None = None) -> int:
        """A step from a process that shares the run (the wrapper's output parser,
        `wbrun log`): numbered after the file's last step, under the run's lock."""
        if sdk_writing(self.paths.dir):
            self.share_steps()
        with self.paths.lock():
            next_step = _next_step(self.paths)
            if step is not None and step < next_step:
                raise UsageError(f"step {step} is below the run's next step {next_step}")
            self._step = next_step if step is None else step
            written = self._step
            self._history_end = None
            self._emit(self._line(metrics, self._step)[1], metrics)
        self.flush_summary()
        return written

    def printed_stamps(self) -> tuple[float, float]:
        """`_runtime` and `_timestamp` for printed steps read now (append_steps's)."""
        now = self._clock()
        return round(now - self._t0, 3), round(now, 3)

    def append_steps(self, batch: list[dict], stamps: tuple[float, float] | None = None) -> bool:
        """Steps printed by the wrapped program, numbered after the file's last step: one
        lock and one write for the whole batch.  The summary is updated in memory and written
        by the Ticker (about once a second) and at finish, not once per step.
        The lines are made by C-level joins, not a Python loop (encode_printed).
        False, with nothing written, once the program's SDK has joined the run (it numbers
        the steps from then on: sdk/start.py reads its first step after this lock).
        """
        if not batch:
            return True
        runtime, stamp = stamps or self.printed_stamps()
        with self.paths.lock():
            if os.path.exists(self.paths.dir / SDK_ATTACHED):
                return False
            step = _next_step(self.paths)
            lines = encode_printed(batch, step, runtime, stamp)
            if lines is None:  # printed _step=... (ours win), NaN, huge integers: row by row
                lines = encode_rows([history_row(metrics, step + i, runtime, stamp)
                                     for i, metrics in enumerate(batch)])
            self._history.write_bytes(lines)
            self._step = step + len(batch)
        with self._lock:
            if self.summary_rules.definitions:  # define_metric's summaries: row by row
                for metrics in batch:
                    self._summary_dirty.update(self.summary_rules.update(self._summary, metrics))
                return True
            # each key's last value; `_` keys (a printed _step=...) are the history's own,
            # never the summary's, as for log()
            last = dict(chain.from_iterable(map(dict.items, batch)))
            for key in [key for key in last if key.startswith("_")]:
                del last[key]
            self._summary.update(last)
            self._summary_dirty.update(last)
        return True

    def append_event(self, row: dict) -> None:
        """A system-metrics sample (called from the sampler thread)."""
        now = self._clock()
        row = {**row, "_runtime": self.runtime_s(), "_timestamp": round(now, 3)}
        with self._lock:
            if self._events is None:
                self._events = jsonio.AppendFile(self.paths.file(EVENTS))
            self._events.write_line(jsonio.dumps(row))

    # --- summary, config, state ---------------------------------------------------------
    def set_summary(self, key: str, value: Any) -> None:
        with self._lock:
            self._summary[key] = value
            self._summary_dirty.add(key)

    def seed_summary(self) -> None:
        """Start from the summary on disk (a resumed run, a program joining a wrapped one), as
        W&B's resumed run does: `run.summary["best"]` reads it, and define_metric's
        min/max/best go on from it (a mean starts again: its count is not kept).  Nothing
        is marked changed: nothing is written again."""
        try:
            saved = jsonio.read_json(self.paths.file(SUMMARY), {})
        except (ValueError, OSError):
            return
        if isinstance(saved, dict):
            with self._lock:
                self._summary = {**saved, **self._summary}

    def flush_summary(self) -> None:
        with self._lock:
            if not self._summary_dirty:
                return
            updates = {k: self._summary[k] for k in self._summary_dirty if k in self._summary}
            self._summary_dirty.clear()
        merge_json_doc(self.paths, SUMMARY, updates)

    def update_config(self, values: dict) -> None:
        jsonio.dumps(values)  # refuse unserializable values before touching the file
        merge_json_doc(self.paths, CONFIG, values)

    def runtime_s(self) -> float:
        """Seconds since `_runtime` 0 (monotonic: never negative, never jumps)."""
        return round(max(0.0, self._monotonic() - self._t0_mono), 3)

    def _mark_time(self, doc: dict, now: float) -> None:
        """The heartbeat, and the seconds of the run's current segment so far."""
        doc["heartbeat"] = now
        segments = doc.get("segments")
        if isinstance(segments, list) and segments and isinstance(segments[-1], dict):
            segments[-1]["seconds"] = round(self._monotonic() - self._segment_t0, 3)

    def heartbeat(self) -> None:
        if self.owns_state and not self.ended:
            now = self._clock()
            update_run_doc(self.paths, lambda doc: self._mark_time(doc, now))

    def release_alive(self) -> None:
        """Let go of the run's alive lock (after its end is written, or when it cannot be)."""
        if self._alive is not None:
            self._alive.release()
            self._alive = None

    def stop_requested(self) -> bool:
        return os.path.exists(self.paths.dir / STOP_REQUEST)

    def finish(self, state: str, exit_code: int | None) -> None:
        """Flush everything and record the final state (only the owner writes state)."""
        if self.ended:
            return
        self._commit_pending()
        self.ended = True
        self.flush_summary()
        if self.owns_state:
            assert state in ENDED_STATES and state != CRASHED
            now = self._clock()

            def end(doc: dict) -> None:
                self._mark_time(doc, now)
                doc.update(state=state, exit_code=exit_code, ended=now)

            try:
                update_run_doc(self.paths, end)
            finally:
                self.release_alive()
        self._history.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        if self._events is not None:
            with self._lock:
                self._events.close()


try:
    from fcntl import LOCK_EX, LOCK_NB, LOCK_UN, flock
    _HAVE_FLOCK = True
except ImportError:  # pragma: no cover - Windows
    _HAVE_FLOCK = False


def _caller_level() -> int:
    """warnings.warn's stacklevel naming the program's line that called into wbrun (through
    wandb.log, run.log or an integration), not a line of ours."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    frame: Any = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _monotonic_origin(doc: dict, t0_wall: float, wall_now: float, mono_now: float) -> float:
    """The monotonic time at which the run's `_runtime` is 0: the recorder's own (same
    boot), else derived from the wall clock once, now."""
    origin = doc.get("monotonic_origin")
    if isinstance(origin, (int, float)) and doc.get("boot_id") and \
            doc.get("boot_id") == alive.boot_id():
        return float(origin)
    return mono_now - (wall_now - t0_wall)


def encode_row(row: dict) -> bytes:
    """One history line; an unserializable value names its key, and nothing is written."""
    try:
        return jsonio.dumps(row)
    except TypeError:
        for key, value in row.items():
            try:
                jsonio.dumps(value)
            except TypeError as exc:
                raise TypeError(f"cannot log {key!r}: {exc}") from None
        raise


def history_row(data: dict, step: int, runtime: float, stamp: float) -> dict:
    """A history row: `_step`, `_runtime` and `_timestamp` first, in the order CSV and the
    charts show them (so a history turns into CSV without reordering its columns), then the
    logged keys; ours win over logged keys of the same names."""
    row = {"_step": step, "_runtime": runtime, "_timestamp": stamp}
    row.update(data)
    if len(row) != len(data) + 3:
        row["_step"], row["_runtime"], row["_timestamp"] = step, runtime, stamp
    return row


def encode_printed(batch: list[dict], step: int, runtime: float, stamp: float) -> bytes | None:
    """The history lines of steps `step`, `step + 1`... as history_row() and encode_rows()
    make them, without building the rows: the metrics are encoded in one call and each
    line's head is joined in (C-level; 100,000 printed lines cost ~0.1 s less).  None where
    that would not be exact (a NaN, an integer JSON cannot hold, an empty step, a step
    holding one of HISTORY_KEYS)."""
    import orjson

    try:
        text = orjson.dumps(batch)
        middle = b',"_runtime":' + orjson.dumps(runtime) + b',"_timestamp":' + orjson.dumps(stamp) + b","
    except (orjson.JSONEncodeError, TypeError):
        return None
    inner = text[2:-2].split(b"},{")
    if (len(inner) != len(batch) or b"null" in text or b"null" in middle or b"" in inner
            or step + len(batch) > 2**63  # (encode_rows writes such steps row by row)
            or any(b'"%s":' % key.encode() in text for key in HISTORY_KEYS)):
        return None
    steps = "\0".join(map(str, range(step, step + len(batch)))).encode().split(b"\0")
    return b'{"_step":' + b'}\n{"_step":'.join(map(middle.join, zip(steps, inner))) + b"}\n"


def encode_rows(rows: list[dict]) -> bytes:
    """History lines for many rows, encoded in one call where that is exact: the array's
    text is cut between its objects (a key holding `},{` changes the count: then, as for
    non-finite numbers or integers JSON cannot hold, row by row)."""
    import orjson

    try:
        text = orjson.dumps(rows)
    except (orjson.JSONEncodeError, TypeError):
        text = b""
    if text and b"null" not in text and text.count(b"},{") == len(rows) - 1:
        return text[1:-1].replace(b"},{", b"}\n{") + b"\n"
    return b"".join(encode_row(row) + b"\n" for row in rows)


class Ticker(threading.Thread):
    """Background upkeep of a live run: heartbeat, summary flush, stop-request polling."""

    def __init__(self, run: LiveRun, on_stop: Callable[[], None] | None = None,
                 poll_s: float = 0.25, flush_s: float = 1.0, keep_digest: bool = False):
        """`keep_digest`: keep a big history's digest up to date as the run goes (the
        wrapper does, beside the program; a program's own SDK run does not, so as not to
        take its time)."""
        super().__init__(name="wbrun-ticker", daemon=True)
        self.live, self.on_stop = run, on_stop
        self.poll_s, self.flush_s = poll_s, flush_s
        self.keep_digest = keep_digest
        self._digested = 0  # the history's size when the digest was last brought up to date
        self._digesting: Any = None  # the subprocess.Popen bringing the digest up to date
        self._halt = threading.Event()
        self._stop_seen = False

    def run(self) -> None:
        clock = self.live._monotonic  # scheduled on elapsed time, not the wall clock
        next_flush = clock() + self.flush_s
        next_beat = clock() + HEARTBEAT_INTERVAL_S
        while not self._halt.wait(self.poll_s):
            try:
                self._tick(clock(), next_flush, next_beat)
            except StoreError as exc:
                _warn_once(self.live, str(exc))
            except Exception as exc:
                _warn_once(self.live, f"{type(exc).__name__}: {exc}")
            now = clock()
            if now >= next_flush:
                next_flush = now + self.flush_s
            if now >= next_beat:
                next_beat = now + HEARTBEAT_INTERVAL_S

    def _tick(self, now: float, next_flush: float, next_beat: float) -> None:
        if self.on_stop and not self._stop_seen and self.live.stop_requested():
            self._stop_seen = True
            self.on_stop()
        if now >= next_flush:
            self.live.flush_summary()
            if self.keep_digest:
                self._update_digest()
        if now >= next_beat:
            self.live.heartbeat()

    def _update_digest(self) -> None:
        """Once the history is past LIVE_BYTES, read what it gained (every LIVE_STEP bytes)
        into its digest, so the first `runs show`/`plot`/`ls --spark` or UI chart after the
        run reads only the last stretch, not the whole history (5M steps: ~45 s).  In a
        low-priority process of its own, one at a time (digest.refresh_in_background):
        neither heartbeats, stop requests nor the output pump wait for it."""
        from wandb_cli.store import digest

        size = digest.history_size(self.live.paths.dir)
        if size < digest.LIVE_BYTES or size - self._digested < digest.LIVE_STEP:
            return
        if self._digesting is not None and self._digesting.poll() is None:
            return
        self._digested = size
        self._digesting = digest.refresh_in_background(self.live.paths.dir)

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=5)


def _warn_once(run: LiveRun, message: str) -> None:
    if run.write_error is None:
        run.write_error = message
        print(f"wbrun: warning: {message}", file=sys.stderr)
