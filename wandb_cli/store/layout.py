"""The run store: its layout on disk, creating runs, and reading them back.

Layout (a public contract, documented in docs/store-format.md):

    <root>/                         ./wandb by default; --dir or WBRUN_DIR override it
      latest-run -> run-...         relative link, replaced atomically
      run-YYYYMMDD_HHMMSS-<id>/     one folder per run (suffix -1, -2 when taken)
        .lock                       the run's lock (flock: released when its holder dies)
        files/
          wbrun-run.json            attributes and the state record
          wandb-metadata.json       command, host, git, hardware; written once
          config.json               {key: value}
          wandb-summary.json        {key: last value}
          wandb-history.jsonl       one object per step (+ _step, _timestamp, _runtime)
          wandb-events.jsonl        system metrics, one object per sample
          output.log                the terminal output
      .wbrun/
        ids/<id>                    one claim per ID ever used; never removed
        seq/<hash of project>       the project's last run number
        store.lock

Invariants: an ID is claimed with an exclusive create, so two starts can never get the same
one, and a claim is never removed, so an ID is never reused.  Documents are replaced whole
under the run's lock; history and events are only appended.
"""
from __future__ import annotations

import functools
import math
import os
import socket
import time
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from itertools import repeat
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, Callable, Collection, Iterator, Mapping, Sequence

from wandb_cli.errors import AmbiguousRun, RunExists, RunNotFound, StoreError, UsageError
from wandb_cli.store import alive, bigdoc, jsonio, proc, rowtext
from wandb_cli.store.ids import new_id, validate_id
from wandb_cli.store.model import CORRUPT, CRASHED, EARLIEST_TIME, LATEST_TIME, RUNNING, RunRecord

DEFAULT_DIRNAME = "wandb"
META = ".wbrun"
RUN_DOC = "wbrun-run.json"
CONFIG = "config.json"
SUMMARY = "wandb-summary.json"
METADATA = "wandb-metadata.json"
HISTORY = "wandb-history.jsonl"
# The keys every history row holds, first, in this order (recorder.history_row, CSV columns).
HISTORY_KEYS = ("_step", "_runtime", "_timestamp")
EVENTS = "wandb-events.jsonl"
OUTPUT = "output.log"
ALERTS = "wbrun-alerts.jsonl"  # wandb.alert() calls, one object per line
STARTING = "starting"  # a claim's status while its run is being created
STALE_CLAIM_S = 120.0  # an empty or unreadable claim this old is a creation that died
SDK_IMPORTED = "sdk-imported"  # in the run folder: the program imported wandb (the shim)
SDK_ATTACHED = "sdk-attached"  # in the run folder: the SDK joined this wrapped run
SDK_FINISHED = "sdk-finished"  # ... and the program finished that joined run (sdk/start.py)
FORMAT_VERSION = 1
DEFAULT_PROJECT = "Uncategorized"
HEARTBEAT_INTERVAL_S = 5.0
DEFAULT_HEARTBEAT_TIMEOUT_S = 60.0


def resolve_root(dir_option: str | os.PathLike | None = None, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None) -> Path:
    """The store root: --dir, else WBRUN_DIR, else ./wandb under the current directory."""
    env = os.environ if env is None else env
    chosen = dir_option or env.get("WBRUN_DIR") or None
    base = cwd or Path.cwd()
    root = Path(chosen).expanduser() if chosen else base / DEFAULT_DIRNAME
    return root if root.is_absolute() else (base / root)


def heartbeat_timeout(env: Mapping[str, str] | None = None) -> float:
    env = os.environ if env is None else env
    try:
        return float(env.get("WBRUN_HEARTBEAT_TIMEOUT", DEFAULT_HEARTBEAT_TIMEOUT_S))
    except ValueError:
        return DEFAULT_HEARTBEAT_TIMEOUT_S


def sdk_writing(run_dir: Path) -> bool:
    """Whether a program's SDK joined the wrapped run in `run_dir` and has not finished it."""
    return os.path.exists(run_dir / SDK_ATTACHED) and not os.path.exists(run_dir / SDK_FINISHED)


def lock(path: Path, timeout: float = 30.0):
    """An inter-process lock on `path`, released by the kernel if its holder dies.

    On POSIX this is flock(2) directly (the same lock filelock takes there), because importing
    filelock costs ~30 ms on every wrapped run and `wbrun log`; elsewhere filelock.
    """
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return _filelock(path, timeout)
    return FlockLock(path, timeout)


def open_lock_file(path: Path) -> int:
    """A lock file opened (made if missing) for flock(2); one user of a shared store's lock
    is every user's."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, jsonio.FILE_MODE)
    except OSError as exc:
        raise StoreError(f"cannot open the lock {path}: {exc.strerror}") from None
    jsonio.share_like_parent(path, fd)  # another user of a shared store takes it too
    return fd


class FlockLock:
    """flock(2) on a lock file, polled until `timeout`; one open file per acquisition, so
    two threads of one process exclude each other too (never nest it in one thread)."""

    def __init__(self, path: Path, timeout: float):
        self.path, self.timeout = path, timeout
        self._fd: int | None = None

    def __enter__(self) -> FlockLock:
        fd = open_lock_file(self.path)
        if not alive.flock_within(fd, self.timeout):
            os.close(fd)
            raise StoreError(f"timed out after {self.timeout:g}s waiting for the lock {self.path}")
        self._fd = fd
        return self

    def __exit__(self, *_exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases the flock
            self._fd = None


def _filelock(path: Path, timeout: float):
    from filelock import FileLock, Timeout

    class _Lock(FileLock):
        def __enter__(self):
            try:
                return super().__enter__()
            except Timeout:
                raise StoreError(f"timed out after {timeout:g}s waiting for the lock {path}") from None

    return _Lock(str(path), timeout=timeout)


@dataclass
class RunPaths:
    """Where one run's files live."""

    dir: Path

    @property
    def files(self) -> Path:
        return self.dir / "files"

    def file(self, name: str) -> Path:
        return self.dir / "files" / name

    @property
    def lock_path(self) -> Path:
        return self.dir / ".lock"

    def lock(self, timeout: float = 30.0):
        return lock(self.lock_path, timeout)


class Store:
    """A store root and the operations on it; `clock` and `host` are injectable for tests."""

    def __init__(self, root: Path, *, clock: Callable[[], float] = time.time,
                 host: str | None = None, env: Mapping[str, str] | None = None,
                 monotonic: Callable[[], float] = time.monotonic):
        self.root = Path(root)
        self.clock = clock  # wall time: what is written (created, heartbeat, _timestamp)
        self.monotonic = monotonic  # what is measured and scheduled (_runtime, intervals)
        self.host = host or socket.gethostname()
        self.env = os.environ if env is None else env

    # --- layout -------------------------------------------------------------------------
    @property
    def meta(self) -> Path:
        return self.root / META

    def ensure(self) -> None:
        try:
            jsonio.make_dirs(self.meta / "ids")
            jsonio.make_dirs(self.meta / "seq")
        except OSError as exc:
            raise StoreError(f"cannot create the store at {self.root}: {exc.strerror}") from None

    def claim_path(self, run_id: str) -> Path:
        return self.meta / "ids" / run_id

    def read_claim(self, run_id: str) -> dict | None:
        try:
            return jsonio.read_json(self.claim_path(run_id))
        except ValueError:
            return {"dir": None, "status": "corrupt"}
        except OSError:  # a reference too long for a file name (or with NUL) is no claim
            return None

    def write_claim(self, run_id: str, claim: dict) -> None:
        jsonio.write_json_atomic(self.claim_path(run_id), claim)

    # --- creating -----------------------------------------------------------------------
    def claim_new_id(self, run_id: str | None) -> str:
        """Claim `run_id` (validated) or a fresh random ID; RunExists if it was ever used."""
        self.ensure()
        for _ in range(100):
            candidate = validate_id(run_id) if run_id else new_id()
            try:
                fd = os.open(self.claim_path(candidate), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                             jsonio.FILE_MODE)
            except FileExistsError:
                if run_id:
                    raise self.id_taken_error(candidate) from None
                continue
            except OSError as exc:
                raise StoreError(f"cannot claim a run ID in {self.root}: {exc.strerror}") from None
            try:  # who is creating it: a claim left by a creator that died can be taken over
                os.write(fd, jsonio.dumps(self._starting_claim()))
            except OSError:
                pass  # (a full disk: an empty claim, taken over once it is old enough)
            finally:
                os.close(fd)
            return candidate
        raise StoreError("could not find a free run ID after 100 tries")

    def _starting_claim(self) -> dict:
        pid = os.getpid()
        return {"dir": None, "status": STARTING, "pid": pid, "pid_start": proc.start_token(pid),
                "host": self.host, "boot_id": alive.boot_id()}

    def unclaim(self, run_id: str, folder: Path | None = None) -> None:
        """Give back an ID whose run this process failed to create: its claim still says this
        process is creating it, or names `folder` (one taken over meanwhile is left alone)."""
        claim = self.read_claim(run_id)
        ours = not isinstance(claim, dict) or claim.get("status") == "corrupt" or (
            claim.get("status") == STARTING
            and (claim.get("pid"), claim.get("host")) == (os.getpid(), self.host)) or (
            folder is not None and claim.get("dir") == folder.name)
        if not ours:
            return
        try:
            os.unlink(self.claim_path(run_id))
        except OSError:
            pass

    def claim_folder(self, run_id: str, folder: Path) -> None:
        """Name, in a claim still being created, the folder made for it (so a take-over
        removes exactly that folder)."""
        self.write_claim(run_id, {**self._starting_claim(), "folder": folder.name})

    def stale_claim(self, run_id: str) -> bool:
        """Whether `run_id`'s claim is a creation that will never finish: its creator (this
        host) is gone, or the claim is empty or unreadable and older than STALE_CLAIM_S (a
        kill -9 or a full disk between claiming the ID and writing the run)."""
        claim = self.read_claim(run_id)
        if not isinstance(claim, dict) or claim.get("status") not in (STARTING, "corrupt"):
            return False
        if claim.get("status") == STARTING and claim.get("host") == self.host and \
                claim.get("boot_id") == alive.boot_id():
            pid = claim.get("pid")
            return not (isinstance(pid, int) and proc.is_alive(pid, claim.get("pid_start")))
        try:
            age = self.clock() - os.stat(self.claim_path(run_id)).st_mtime
        except OSError:
            return False
        return age > STALE_CLAIM_S

    def take_stale_claim(self, run_id: str) -> bool:
        """Under the store's lock, if `run_id`'s claim is stale: remove the folders its
        creator left without a run document, and the claim; True if it was taken."""
        import shutil

        with lock(self.meta / "store.lock"):
            if not self.stale_claim(run_id):
                return False
            claim = self.read_claim(run_id) or {}
            if claim.get("status") == "corrupt":  # unreadable: a run of that ID may exist
                found = self._folder_of(run_id)
                if found is not None:  # (its claim lost to a crash of the disk: mended)
                    self.write_claim(run_id, {"dir": found.name, "status": "live"})
                    return False
            folder = claim.get("folder")
            if isinstance(folder, str) and folder.startswith("run-") and "/" not in folder \
                    and "\\" not in folder:
                path = self.root / folder
                if path.is_dir() and not path.is_symlink() and not (path / "files" / RUN_DOC).exists():
                    shutil.rmtree(path, ignore_errors=True)
            try:
                os.unlink(self.claim_path(run_id))
            except OSError:
                pass
            return True

    def _folder_of(self, run_id: str) -> Path | None:
        """The folder whose run document has ID `run_id` (a scan of its possible names)."""
        for folder in self.root.glob(f"run-*-{run_id}*"):
            try:
                doc = jsonio.read_json(folder / "files" / RUN_DOC, None)
            except (OSError, ValueError):
                continue
            if isinstance(doc, dict) and doc.get("id") == run_id and not folder.is_symlink():
                return folder
        return None

    def id_taken_error(self, run_id: str) -> RunExists:
        claim = self.read_claim(run_id) or {}
        if claim.get("status") in ("deleted", "purged"):
            return RunExists(f"run ID {run_id!r} belonged to a deleted run; IDs are never reused")
        if claim.get("status") in (STARTING, "corrupt") and self.dir_of(run_id) is None:
            return RunExists(f"run ID {run_id!r} is being created by another process (or its "
                             f"creation stopped less than {STALE_CLAIM_S:.0f} s ago); try again")
        return RunExists(f"run ID {run_id!r} already exists (pass --resume allow to continue it)")

    def next_sequence(self, project: str) -> int:
        import hashlib

        self.ensure()
        key = hashlib.sha256(project.encode("utf-8", "surrogateescape")).hexdigest()[:24]
        counter = self.meta / "seq" / key
        with lock(self.meta / "store.lock"):
            try:
                current = int(counter.read_text() or 0)
            except (FileNotFoundError, ValueError):
                current = self._count_project_runs(project)
            jsonio.write_bytes_atomic(counter, str(current + 1).encode())
        return current + 1

    def _count_project_runs(self, project: str) -> int:
        """Recovery when the counter is missing: the number of runs already in the project."""
        return sum(1 for record in self.iter_runs() if record.project == project)

    def make_run_dir(self, run_id: str, start: float) -> Path:
        stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(start))
        base = f"run-{stamp}-{run_id}"
        for suffix in range(1000):
            path = self.root / (base if suffix == 0 else f"{base}-{suffix}")
            try:
                jsonio.make_dirs(path.parent)
                path.mkdir(mode=jsonio.DIR_MODE)
            except FileExistsError:
                continue
            except OSError as exc:
                raise StoreError(f"cannot create {path}: {exc.strerror}") from None
            (path / "files").mkdir(mode=jsonio.DIR_MODE)
            jsonio.share_like_parent(path)  # another user of a shared store may delete it
            jsonio.share_like_parent(path / "files")
            return path
        raise StoreError(f"too many run folders named {base}")

    def point_latest(self, run_dir: Path) -> None:
        link = self.root / "latest-run"
        tmp = self.root / f".latest-run.tmp-{os.getpid()}-{os.urandom(3).hex()}"
        try:
            os.symlink(run_dir.name, tmp)
            os.replace(tmp, link)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass

    # --- finding ------------------------------------------------------------------------
    def run_dirs(self) -> Iterator[Path]:
        try:
            entries = os.scandir(self.root)
        except FileNotFoundError:
            return
        with entries:
            for entry in entries:
                if entry.name.startswith("run-") and entry.is_dir(follow_symlinks=False):
                    yield Path(entry.path)

    def dir_of(self, run_id: str) -> Path | None:
        claim = self.read_claim(run_id)
        if not isinstance(claim, dict) or claim.get("status", "live") != "live":
            return None
        folder = claim.get("dir")
        # A claim names a folder directly in the root; anything else (a tampered claim with
        # '../' or a path) must never lead a read or a resume out of the store.
        if not isinstance(folder, str) or not folder.startswith("run-") or "/" in folder \
                or "\\" in folder or "\0" in folder:
            return None
        path = self.root / folder
        return path if path.is_dir() and not path.is_symlink() else None

    def find(self, ref: str) -> RunRecord:
        """A run by ID, unique ID prefix or unique name."""
        if not ref:
            raise UsageError("empty run reference")
        if "/" not in ref and "\0" not in ref and ref not in (".", ".."):
            exact = self.dir_of(ref)
            if exact is not None:
                return self.read(exact)
            matches = self._prefix_matches(ref)
            if len(matches) == 1:
                return self.read(matches[0])
            if len(matches) > 1:
                raise self._ambiguous(ref, [self.read(d) for d in matches])
        named = [r for r in self.iter_runs() if r.name == ref]
        if len(named) == 1:
            return named[0]
        if named:
            raise self._ambiguous(ref, named)
        if ref in ("latest", "latest-run"):
            newest = self.latest_run()
            if newest is not None:
                return newest
        raise RunNotFound(f"no run matches {ref!r} (give an ID, a unique ID prefix or a name)")

    def latest_run(self) -> RunRecord | None:
        """The run `latest-run` points at if it is one of ours; else (the link left dangling
        by a delete, or repointed by W&B's own SDK, which keeps the same link in ./wandb) the
        run created last."""
        link = self.root / "latest-run"
        try:
            target = self.root / os.readlink(link)
        except OSError:
            target = None
        if target is not None and target.parent == self.root and target.name.startswith("run-") \
                and (target / "files" / RUN_DOC).is_file():
            return self.read(target)
        runs = [record for record in self.iter_runs() if record.state != CORRUPT]
        return max(runs, key=lambda record: record.created) if runs else None

    def _prefix_matches(self, prefix: str) -> list[Path]:
        try:
            names = os.listdir(self.meta / "ids")
        except FileNotFoundError:
            return []
        dirs = (self.dir_of(name) for name in names if name.startswith(prefix))
        return [d for d in dirs if d is not None]

    @staticmethod
    def _ambiguous(ref: str, records: list[RunRecord]) -> AmbiguousRun:
        listed = ", ".join(f"{r.id} ({r.name})" for r in records[:10])
        more = f" and {len(records) - 10} more" if len(records) > 10 else ""
        return AmbiguousRun(f"{ref!r} matches {len(records)} runs: {listed}{more}")

    # --- reading ------------------------------------------------------------------------
    def iter_runs(self, *, use_index: bool = True, texts: bool = False) -> Iterator[RunRecord]:
        """Every run folder's record, through the index (see index.py) unless told not to;
        `texts`: each record from the index's columns refers to its `--format json` text in
        the rows file (store/rowtext.py), which stays open while they do."""
        if not use_index:
            for run_dir in self.run_dirs():
                yield self.read(run_dir)
            return
        from wandb_cli.store import index

        host, now, stale_after = self.host, self.clock(), heartbeat_timeout(self.env)
        yield from index.scan(
            self.root, read_entry, RECORD_FIELDS,
            make=functools.partial(record_from_entry, host=host, now=now, stale_after=stale_after),
            build=records_from_columns,
            judge=functools.partial(judge, host=host, now=now, stale_after=stale_after),
            texts=index.TextSpec(render_entry, render_fingerprint(), texts), deferred=DEFERRED_FIELDS)

    def read(self, run_dir: Path) -> RunRecord:
        return read_record(run_dir, host=self.host, now=self.clock(),
                           stale_after=heartbeat_timeout(self.env))


def read_record(run_dir: Path, *, host: str, now: float, stale_after: float) -> RunRecord:
    """One run as it stands now; unreadable parts are reported in `problems`, not raised."""
    return record_from_raw(read_raw(run_dir), run_dir, host=host, now=now, stale_after=stale_after)


def record_from_raw(raw: dict, run_dir: str | Path, *, host: str, now: float,
                    stale_after: float) -> RunRecord:
    """A record from a run's raw documents, its state judged now (never cached)."""
    record = _unjudged(raw, run_dir)
    if _needs_judging(record):
        judge(record, raw["run"], host=host, now=now, stale_after=stale_after)
    return record


# The index (index.py) keeps, per run folder, an entry: [the fields of its record as read
# from the documents, in RECORD_FIELDS order with `dir` null, and the run document when the
# state is still to be judged (running), else null].  A record is then built from it with
# no parsing of the run document nor type checks (100,000 records: 2.5 -> 0.6 s).
_NOT_KEPT = ("finite", "rendered", "deferred")
RECORD_FIELDS = tuple(f.name for f in dataclass_fields(RunRecord) if f.name not in _NOT_KEPT)
_DIR_AT = RECORD_FIELDS.index("dir")
# (`finite`, `rendered` and `deferred` follow the fields an entry holds: records_from_columns
# passes them after them)
assert [f.name for f in dataclass_fields(RunRecord)] == [*RECORD_FIELDS, *_NOT_KEPT]


def read_entry(run_dir: Path) -> list:
    """One run folder's index entry, read afresh from its documents."""
    return index_entry(read_raw(run_dir), run_dir)


def index_entry(raw: dict, run_dir: str | Path) -> list:
    record = _unjudged(raw, run_dir)
    values = [getattr(record, name) for name in RECORD_FIELDS]
    values[_DIR_AT] = None
    return [values, raw["run"] if _needs_judging(record) else None]


def record_from_entry(entry: list, folder: str, *, host: str, now: float,
                      stale_after: float) -> RunRecord:
    """The record of one entry (left as it was: the index may write it again)."""
    values, run = entry
    record = RunRecord(*values)
    record.dir = folder
    if run is not None:
        judge(record, run, host=host, now=now, stale_after=stale_after)
    return record


# Fields few listings read, which the index's columns file keeps as text until a record is
# asked for one (indexread.Deferred; 100,000 runs: their columns took ~0.08 s to parse, the
# command's most; the others are mostly empty)
DEFERRED_FIELDS = frozenset({"command", "slurm", "dist", "oversize"})


def records_from_columns(columns: Sequence[Any], folders: list[str],
                         texts: rowtext.Texts | None) -> list[RunRecord]:
    """The records of many entries at once, given as columns (one per field, in
    RECORD_FIELDS order, parsed from the index's columns file: strict JSON, whose numbers
    are all finite), not yet judged: built by C-level maps, not one call per run (100,000
    runs ~0.25 s here); each refers to its row of the rows file where there is one.  A
    deferred column's field is left unset, to be parsed when a record is asked for it."""
    columns = list(columns)
    columns[_DIR_AT] = folders
    rendered = zip(repeat(texts), range(len(folders))) if texts is not None else repeat(None)
    later = {name: column for name, column in zip(RECORD_FIELDS, columns) if type(column) is not list}
    if not later:
        return list(map(RunRecord, *columns, repeat(True), rendered, repeat(None)))
    source = _Later(later)
    eager = [column for column in columns if type(column) is list]
    return list(map(_builder(frozenset(later)), *eager, repeat(True), rendered,
                    zip(repeat(source), range(len(folders)))))


class _Later:
    """The deferred columns of one listing's records (RunRecord.deferred)."""

    def __init__(self, columns: dict[str, Any]):
        self.columns = columns

    def value(self, name: str, row: int) -> Any:
        column = self.columns.get(name)
        if column is None:
            raise AttributeError(f"'RunRecord' object has no attribute {name!r}")
        return column[row]  # (an indexread.Deferred: parsed on the first read of any row)


def read_deferred(records: Sequence[RunRecord], names: Collection[str] | None = None) -> None:
    """Set the deferred fields (RunRecord.deferred) of those of `records` built from the
    columns, by C-level maps, for a caller about to read them over many records: one by one,
    each is a Python call (`--format jsonl` of 100,000 runs: +0.23 s; a filter on `command`:
    +0.05 s).  `names`: those fields only (None: all); a field set already is set again, to
    the same object.  A record refers to the columns until one call sets all its fields.
    Call it before setting any of them yourself."""
    assert not isinstance(names, str), "names: a collection of field names"
    marks = list(map(attrgetter("deferred"), records))
    sources = set(map(itemgetter(0), filter(None, marks)))
    for source in sources:
        if len(sources) == 1 and all(marks):  # (the usual case: one listing's, all from its columns)
            mine, rows = list(records), list(map(itemgetter(1), marks))
        else:
            picked = [(record, mark[1]) for record, mark in zip(records, marks)
                      if mark is not None and mark[0] is source]
            mine, rows = [record for record, _ in picked], [row for _, row in picked]
        wanted = [(name, column) for name, column in source.columns.items() if names is None or name in names]
        for name, column in wanted:
            values = column.values()
            list(map(setattr, mine, repeat(name), map(values.__getitem__, rows)))
        if len(wanted) == len(source.columns):
            # every deferred field set: they refer to the columns no more (a second call, or
            # a record kept alone, sets or holds nothing of them)
            list(map(setattr, mine, repeat("deferred"), repeat(None)))


@functools.lru_cache(maxsize=4)
def _builder(later: frozenset[str]) -> Callable[..., RunRecord]:
    """A function making a record of the fields in RECORD_FIELDS order but those in `later`,
    which it leaves unset, then those not kept.  Made as dataclasses makes `__init__`, by
    running its text: one Python call a run, of plain slot assignments (100,000 runs: ~20%
    quicker than RunRecord(...), which sets every field)."""
    names = [name for name in RECORD_FIELDS if name not in later] + list(_NOT_KEPT)
    assert all(map(str.isidentifier, names))
    body = "".join(f"    record.{name} = {name}\n" for name in names)
    scope: dict[str, Any] = {"new": object.__new__, "RunRecord": RunRecord}
    exec(f"def build({', '.join(names)}):\n    record = new(RunRecord)\n{body}    return record\n", scope)
    return scope["build"]


# the path a run's text is rendered with, to be found and cut out, its quotes left (rowtext.Split)
_PATH_MARK = "\x00wbrun:path\x00"
_PATH_MEMBER = b'"dir": ' + jsonio.dumps(_PATH_MARK)


@functools.lru_cache(maxsize=1)
def render_fingerprint() -> str:
    """A digest of this wbrun's and orjson's versions and of a sample entry's text (times,
    floats, keys, text that JSON escapes): another wbrun, another orjson, or time zone rules
    that spell times otherwise (TZ=right/...) may render runs otherwise, and a rows file they
    wrote is not used here."""
    import hashlib

    import orjson

    from wandb_cli._version import __version__

    sample = RunRecord(
        id="sample01", name="sämple-1", project="p", entity="e", state="finished",
        created=1_700_000_000.1234, dir="", ended=1_700_003_600.5, heartbeat=1_700_003_600.5,
        exit_code=0, host="h", pid=1, command=["python", "t.py"], tags=["a"], group="g",
        job_type="j", notes='"\n\t', config={"lr": 0.1, "n": [1, 2.5e-07], "none": None},
        summary={"loss": 1e300, "x": {"y": True}}, slurm={"job_id": "1"}, running_s=3600.25,
        parent="p", wandb_compat="on")
    values = [getattr(sample, name) for name in RECORD_FIELDS]
    values[_DIR_AT] = None
    parts = render_entry([values, None]) or (b"", b"")
    versions = f"{__version__} {orjson.__version__}".encode()
    return hashlib.blake2b(b"\0".join([versions, *parts]), digest_size=8).hexdigest()


def render_entry(entry: list) -> rowtext.Split | None:
    """An entry's record as `runs ls --format json` prints it (to_dict, one item of an indented
    array), cut where its path goes (inside the quotes); None for a run judged when read, or
    a text that cannot be made or cut at one place.  Entries are strict JSON (indexread._encode):
    no NaN to write as null."""
    values, run = entry
    if run is not None:
        return None
    record = RunRecord(*values)
    record.dir = _PATH_MARK
    try:
        text = jsonio.pretty_item(record.to_dict())
    except (TypeError, ValueError, OverflowError, OSError):  # (a config nested past orjson's depth)
        return None
    at = text.find(_PATH_MEMBER)
    if at < 0 or text.find(_PATH_MEMBER, at + 1) >= 0:
        return None
    return text[:at + len(b'"dir": "')], text[at + len(_PATH_MEMBER) - 1:]  # (the quotes kept)


def documents_of_entry(entry: list) -> dict:
    """An entry as read_raw's shape (run attributes, config, summary), for the completion."""
    fields = dict(zip(RECORD_FIELDS, entry[0]))
    return {"run": fields, "config": fields["config"], "summary": fields["summary"]}


def _unjudged(raw: dict, run_dir: str | Path) -> RunRecord:
    run, mistyped = _checked(raw["run"])
    problems = [*(raw.get("problems") or []), *mistyped]
    record = _record_from(run, run_dir, raw["config"], raw["summary"])
    if raw.get("oversize"):
        record.oversize = dict(raw["oversize"])
    if problems:
        record.problems = problems
        if not run or mistyped:
            record.state = CORRUPT
    return record


def _needs_judging(record: RunRecord) -> bool:
    return record.state == RUNNING and not record.problems


def judge(record: RunRecord, run: dict, *, host: str, now: float, stale_after: float) -> None:
    """A running run's state as of now: crashed unless its recorder is judged live."""
    record.rendered = None  # (its text, if any, was of the state it was cached in)
    verdict = judge_recorder(run, record.dir, host=host, now=now, stale_after=stale_after)
    if verdict != LIVE:
        record.state = CRASHED
        record.maybe_live = verdict == SILENT
        record.summary = summary_from_history(record.dir, record.summary)
        record.finite = False  # (a history may hold NaN)


def summary_from_history(run_dir: str | Path, saved: dict) -> dict:
    """A run that ended without finish(): the summary its history implies (last value per
    key, define_metric rules applied) over what it had saved, which may be a flush behind."""
    from wandb_cli.store.metrics import implied_summary, read_definitions

    paths = RunPaths(Path(run_dir))
    rows = jsonio.iter_jsonl(paths.file(HISTORY), on_torn=None)
    return implied_summary(rows, read_definitions(paths.files), base=saved)


def read_raw(run_dir: Path) -> dict:
    """A run's three small documents as stored, with a list of what could not be read."""
    paths = RunPaths(run_dir)
    problems: list[str] = []

    oversize: dict[str, int] = {}

    def doc(name: str, default: Any) -> Any:
        try:
            if name == RUN_DOC:
                value = jsonio.read_json(paths.file(name), None)
            else:
                value, size = bigdoc.read_capped(paths.file(name), None)
                if size is not None:
                    oversize[name] = size
        except (ValueError, OSError) as exc:
            problems.append(f"{name} is unreadable ({type(exc).__name__})")
            return default
        if value is None:
            if name == RUN_DOC:
                problems.append(f"{name} is missing")
            return default
        return value

    run = doc(RUN_DOC, {})
    if not isinstance(run, dict):
        problems.append(f"{RUN_DOC} is not an object")
        run = {}
    config, summary = doc(CONFIG, {}), doc(SUMMARY, {})
    raw = {"run": run, "config": config if isinstance(config, dict) else {},
           "summary": summary if isinstance(summary, dict) else {}, "problems": problems}
    if oversize:
        raw["oversize"] = oversize
    return raw


_NUMBER = (int, float)
_NUMBER_TYPES = frozenset(_NUMBER)
_OPTIONAL = type(None)
RUN_DOC_TYPES = {
    "id": (str,), "name": (str,), "project": (str,), "entity": (str,), "state": (str,),
    "created": _NUMBER, "ended": (*_NUMBER, _OPTIONAL), "heartbeat": (*_NUMBER, _OPTIONAL),
    "exit_code": (int, _OPTIONAL), "host": (str,), "pid": (int, _OPTIONAL),
    "command": (list,), "tags": (list,), "group": (str, _OPTIONAL),
    "job_type": (str, _OPTIONAL), "notes": (str, _OPTIONAL),
    "slurm": (dict, _OPTIONAL), "dist": (dict, _OPTIONAL),
}


_ALLOWED_TYPES = {key: frozenset(types) for key, types in RUN_DOC_TYPES.items()}


# A run document's times (model.EARLIEST_TIME to LATEST_TIME: past them, `ended: 1e20`,
# `--format json` and `runs show` failed with an internal error)
_TIMES = ("created", "ended", "heartbeat")


def _checked(run: dict) -> tuple[dict, list[str]]:
    """The run document without fields of the wrong type or times out of range, and a
    problem for each one."""
    allowed = _ALLOWED_TYPES
    # exact types (a bool is not an int here), one dict lookup per field: this runs for
    # every run of every listing
    wrong = [key for key, value in run.items() if key in allowed and type(value) not in allowed[key]]
    unspelt = [key for key in _TIMES if _unspelt(run.get(key))]
    if not wrong and not unspelt:
        return run, []
    problems = [f"{RUN_DOC}: {key} has the wrong type ({type(run[key]).__name__})" for key in wrong]
    problems += [f"{RUN_DOC}: {key} is not a time from year 1 to 9999 ({run[key]!r})" for key in unspelt]
    return {k: v for k, v in run.items() if k not in wrong and k not in unspelt}, problems


def _unspelt(value: Any) -> bool:
    """A number (of the right type) that is not a time a date can spell."""
    return type(value) in _NUMBER_TYPES and not EARLIEST_TIME <= value < LATEST_TIME


def _record_from(run: dict, run_dir: str | Path, config: dict, summary: dict) -> RunRecord:
    # (no document: the ID its folder is named by, `run-YYYYMMDD_HHMMSS-<id>`)
    parts = os.path.basename(run_dir).split("-", 2)
    fallback_id = parts[2] if len(parts) == 3 else parts[-1]
    return RunRecord(
        id=str(run.get("id") or fallback_id),
        name=str(run.get("name") or fallback_id),
        project=str(run.get("project") or DEFAULT_PROJECT),
        entity=str(run.get("entity") or ""),
        state=str(run.get("state") or CORRUPT),
        created=float(run.get("created") or 0.0),
        dir=str(run_dir),
        ended=run.get("ended"),
        heartbeat=run.get("heartbeat"),
        exit_code=run.get("exit_code"),
        host=str(run.get("host") or ""),
        pid=run.get("pid"),
        command=[str(arg) for arg in run.get("command") or []],
        tags=[str(tag) for tag in run.get("tags") or []],
        group=run.get("group"),
        job_type=run.get("job_type"),
        notes=run.get("notes"),
        config=config,
        summary=summary,
        slurm=run.get("slurm") or {},
        dist=run.get("dist") or {},
        running_s=running_seconds(run.get("segments")),
        parent=run.get("parent") if isinstance(run.get("parent"), str) else None,
        wandb_compat=run.get("wandb_compat") if isinstance(run.get("wandb_compat"), str) else None,
    )


def running_seconds(segments: Any) -> float | None:
    """The sum of a run document's `segments` ([{"start": POSIX, "seconds": S}, ...]: one
    per time the run ran), or None when it has none (older runs) or they are malformed."""
    if type(segments) is not list or not segments:
        return None
    total = 0.0
    for segment in segments:
        seconds = segment.get("seconds") if type(segment) is dict else None
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) \
                or not 0 <= seconds < math.inf:  # (Infinity in a document: no runtime to print)
            return None
        total += float(seconds)
    return total


LIVE, GONE, SILENT = "live", "gone", "silent"


def judge_recorder(run: dict, run_dir: str | Path | None, *, host: str, now: float,
                   stale_after: float) -> str:
    """Judged at read time: is a running run's recorder LIVE, GONE (certainly), or SILENT
    (no heartbeat for `stale_after` seconds, but nothing here can prove it is gone)?

    The recorder's lock (alive.py) decides where it can: held means live, on any host and
    whatever the clocks say; free under the same kernel means gone.  Runs without the lock
    (older wbrun): on the same host the recorder's pid must be alive with the same start
    time (a reused pid does not count).  Otherwise only the heartbeat can tell, and a run
    judged by it is only SILENT: another host's clock may simply be behind ours.
    """
    lock = alive.probe(run_dir) if run_dir is not None else alive.UNKNOWN
    if lock == alive.HELD:
        return LIVE
    if lock == alive.FREE and run.get("boot_id") and run.get("boot_id") == alive.boot_id():
        return GONE
    if run.get("host") == host and not run.get("boot_id"):
        return GONE if not proc.is_alive(run.get("pid"), run.get("pid_start")) else LIVE
    heartbeat = run.get("heartbeat") or run.get("created") or 0.0
    return SILENT if now - heartbeat > stale_after else LIVE


def is_crashed(run: dict, *, host: str, now: float, stale_after: float,
               run_dir: str | Path | None = None) -> bool:
    """True unless the run's recorder is judged live (see judge_recorder)."""
    return judge_recorder(run, run_dir, host=host, now=now, stale_after=stale_after) != LIVE


def update_run_doc(paths: RunPaths, change: Callable[[dict], Any]) -> dict:
    """Read-modify-write the run document under the run's lock; returns the new document."""
    with paths.lock():
        doc = jsonio.read_json(paths.file(RUN_DOC), {}) or {}
        change(doc)
        jsonio.write_json_atomic(paths.file(RUN_DOC), doc)
    return doc


def merge_json_doc(paths: RunPaths, name: str, updates: dict, *, replace: bool = False) -> dict:
    """Merge `updates` into a dict document (config, summary) under the run's lock."""
    with paths.lock():
        try:
            current = {} if replace else (jsonio.read_json(paths.file(name), {}) or {})
        except ValueError:
            current = {}
        current.update(updates)
        jsonio.write_json_atomic(paths.file(name), current)
    return current
