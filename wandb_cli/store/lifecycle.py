"""Changing runs after the fact: tags, notes and names; delete (to the store's trash),
restore and purge.  Stopping a live run is in stopping.py.

Invariants: every change to a run's document is a read-modify-write under the run's lock
(`update_run_doc`), so a change made while the run is live and writing, or two changes at
once, lose nothing; a change never re-creates a run that moved away meanwhile (it is
refused).  A deleted run's folder moves whole into `<root>/.trash/` with one rename under its
lock, and its ID claim is marked deleted, then purged, never removed, so the ID is never
handed out or accepted again.
"""
from __future__ import annotations

import os
import re
import shutil
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

from wandb_cli.errors import AmbiguousRun, RunNotFound, StoreError, UsageError, WbrunError
from wandb_cli.store import jsonio
from wandb_cli.store.ids import MAX_NAME_LENGTH, validate_id, validate_name  # noqa: F401 (re-exported)
from wandb_cli.store.layout import RUN_DOC, RunPaths, Store, update_run_doc
from wandb_cli.store.model import CORRUPT, RUNNING, RunRecord
from wandb_cli.textfmt import printable

TRASH = ".trash"
PURGING = ".purging-"  # a purged folder's name while it is being removed
MAX_TAG_LENGTH = 64
TAG_RULE = "1-64 letters, digits, '_', '-', '.', ':' or '/', not starting with '-'"
_TAG = re.compile(r"[\w.:/][\w.:/\-]{0,63}\Z")


# --- finding ---------------------------------------------------------------------------------
def find_run(store: Store, ref: str) -> RunRecord:
    """A run that is not deleted, by ID, unique ID prefix or name; a deleted ID says so."""
    try:
        return store.find(ref)
    except RunNotFound:
        status = _claim_status(store, ref)
        if status == "deleted":
            raise RunNotFound(f"run {ref!r} is in the trash (`wbrun runs restore {ref}` "
                              "brings it back)") from None
        if status == "purged":
            raise RunNotFound(f"run {ref!r} was deleted and purged; its ID is never reused") from None
        raise


def _claim_status(store: Store, ref: str) -> str | None:
    try:
        validate_id(ref)  # a reference that is no ID must never become a path
    except UsageError:
        return None
    return (store.read_claim(ref) or {}).get("status")


def trash_dir(store: Store) -> Path:
    return store.root / TRASH


def iter_trash(store: Store) -> Iterator[RunRecord]:
    """The deleted runs (as they were when deleted), in no particular order."""
    try:
        entries = os.scandir(trash_dir(store))
    except FileNotFoundError:
        return
    with entries:
        for entry in entries:
            if entry.name.startswith("run-") and entry.is_dir(follow_symlinks=False):
                yield store.read(Path(entry.path))


def find_trashed(store: Store, ref: str) -> RunRecord:
    """A deleted run by ID, unique ID prefix or name."""
    if not ref:
        raise UsageError("empty run reference")
    trashed = list(iter_trash(store))
    rules: tuple[Callable[[RunRecord], bool], ...] = (
        lambda r: r.id == ref, lambda r: r.id.startswith(ref), lambda r: r.name == ref)
    for rule in rules:
        matches = [record for record in trashed if rule(record)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            listed = ", ".join(f"{r.id} ({r.name})" for r in matches[:10])
            raise AmbiguousRun(f"{ref!r} matches {len(matches)} deleted runs: {listed}")
    status = _claim_status(store, ref)
    if status == "purged":
        raise RunNotFound(f"run {ref!r} was purged; there is nothing left to restore")
    if status == "live":
        raise RunNotFound(f"run {ref!r} is not deleted")
    raise RunNotFound(f"no deleted run matches {ref!r}")


def deleted_at(store: Store, record: RunRecord) -> float | None:
    """When a trashed run was deleted (POSIX seconds), from its ID claim."""
    value = (store.read_claim(record.id) or {}).get("deleted_at")
    return float(value) if isinstance(value, (int, float)) else None


def select_trash(store: Store, *, older_than_s: float | None = None,
                 now: float | None = None) -> list[RunRecord]:
    """Trashed runs deleted more than `older_than_s` seconds ago (all when None)."""
    records = sorted(iter_trash(store), key=lambda r: r.created)
    if older_than_s is None:
        return records
    now = store.clock() if now is None else now
    return [r for r in records if (deleted_at(store, r) or now) <= now - older_than_s]


# --- the trash -------------------------------------------------------------------------------
def delete_run(store: Store, record: RunRecord, *, clock=None, force: bool = False) -> Path:
    """Move a run into the trash; returns its path there.  A running run is refused, and so
    is one that may be live elsewhere (crashed by its heartbeat alone) unless `force`."""
    paths = RunPaths(Path(record.dir))
    with _locked_run(paths, record.id, docless=record.state == CORRUPT):
        current = store.read(paths.dir)
        if current.state == RUNNING:
            raise WbrunError(f"run {record.id} is running; stop it first (`wbrun runs stop "
                             f"{record.id}`) or pass --force")
        if current.maybe_live and not force:
            raise WbrunError(maybe_live_message(current, "delete"))
        _mkdir(trash_dir(store))  # only now: a refused delete leaves the store as it was
        target = _free_path(trash_dir(store), paths.dir.name)
        _rename(paths.dir, target, f"cannot move run {record.id} to the trash")
        if _claim_is_this(store, record, paths.dir.name):
            store.write_claim(record.id, {"dir": f"{TRASH}/{target.name}", "status": "deleted",
                                          "deleted_at": (clock or store.clock)()})
    return target


def maybe_live_message(record: RunRecord, verb: str) -> str:
    """Why `verb` is refused for a run that reads crashed by its heartbeat alone."""
    return (f"run {record.id} may still be running on host '{printable(record.host)}': it reads "
            "crashed only because its heartbeat is old by this host's clock, and its recorder's "
            f"lock cannot be checked from here; pass --force to {verb} it anyway")


def restore_run(store: Store, record: RunRecord) -> Path:
    """Move a trashed run back into the store; returns its path."""
    paths = RunPaths(Path(record.dir))
    if paths.dir.parent != trash_dir(store):
        raise UsageError(f"run {record.id} is not deleted")
    with _locked_run(paths, record.id, docless=record.state == CORRUPT):
        target = _free_path(store.root, paths.dir.name)
        _rename(paths.dir, target, f"cannot restore run {record.id}")
        if _claim_is_this(store, record, f"{TRASH}/{paths.dir.name}"):
            store.write_claim(record.id, {"dir": target.name, "status": "live"})
    return target


def purge(store: Store, record: RunRecord, *, clock=None) -> None:
    """Remove a trashed run for good; its ID claim stays, marked purged."""
    paths = RunPaths(Path(record.dir))
    if paths.dir.parent != trash_dir(store):
        raise UsageError(f"run {record.id} is not deleted; only deleted runs can be purged")
    with _locked_run(paths, record.id, docless=record.state == CORRUPT):
        doomed = paths.dir.with_name(PURGING + paths.dir.name)
        _rename(paths.dir, doomed, f"cannot purge run {record.id}")
        if _claim_is_this(store, record, f"{TRASH}/{paths.dir.name}"):
            store.write_claim(record.id, {"dir": None, "status": "purged",
                                          "deleted_at": deleted_at(store, record),
                                          "purged_at": (clock or store.clock)()})
    shutil.rmtree(doomed, ignore_errors=True)


def sweep_purged(store: Store) -> None:
    """Finish removing folders an interrupted purge left behind (their claims say purged)."""
    try:
        names = os.listdir(trash_dir(store))
    except FileNotFoundError:
        return
    for name in names:
        if name.startswith(PURGING):
            shutil.rmtree(trash_dir(store) / name, ignore_errors=True)


def _claim_is_this(store: Store, record: RunRecord, where: str) -> bool:
    """Whether the run's ID claim may be rewritten for the folder at `where` (relative to
    the store): always for a run with its document; for a corrupt one without it (its ID
    only guessed from the folder's name), only if the claim names that folder, is still
    being created there, or is missing or unreadable."""
    if record.state != CORRUPT or (Path(record.dir) / "files" / RUN_DOC).exists():
        return True
    claim = store.read_claim(record.id)
    if claim is None or claim.get("status") == "corrupt":
        return True
    return claim.get("dir") == where or claim.get("folder") == where


@contextmanager
def _locked_run(paths: RunPaths, run_id: str, *, docless: bool = False):
    """The run's lock, refusing a run that moved away before the lock was ours.  `docless`:
    a corrupt run without its run document (a creation killed part-way) is there while
    its folder is (it can be deleted, restored and purged like any run)."""
    def there() -> bool:
        return paths.file(RUN_DOC).exists() or (docless and (paths.dir / "files").is_dir())

    if not there():
        raise _vanished(run_id)
    with ExitStack() as stack:
        try:
            stack.enter_context(paths.lock())
        except StoreError:
            if paths.dir.exists():
                raise
            raise _vanished(run_id) from None
        if not there():
            _remove_ghost(paths)
            raise _vanished(run_id)
        yield


def _vanished(run_id: str) -> RunNotFound:
    return RunNotFound(f"run {run_id} was moved meanwhile (deleted, restored or purged "
                       "by someone else)")


def _remove_ghost(paths: RunPaths) -> None:
    """Taking a lock may create its folder (filelock does): undo that when the run had
    moved away."""
    try:
        if os.listdir(paths.dir) == [paths.lock_path.name]:
            os.unlink(paths.lock_path)
            os.rmdir(paths.dir)
    except OSError:
        pass


def _free_path(parent: Path, name: str) -> Path:
    for suffix in range(1000):
        candidate = parent / (name if suffix == 0 else f"{name}-{suffix}")
        if not os.path.lexists(candidate):
            return candidate
    raise StoreError(f"too many folders named {name} in {parent}")


def _rename(source: Path, target: Path, what: str) -> None:
    try:
        os.rename(source, target)
    except OSError as exc:
        raise StoreError(f"{what}: {exc.strerror or exc}") from None


def _mkdir(path: Path) -> None:
    try:
        jsonio.make_dirs(path)
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror or exc}") from None


# --- tags, notes, names ----------------------------------------------------------------------
def validate_tag(tag: str) -> str:
    """Return `tag` if it may be added, else raise UsageError saying what a tag may be."""
    if not isinstance(tag, str) or not _TAG.match(tag):
        raise UsageError(f"bad tag '{printable(tag)}': a tag is {TAG_RULE}")
    return tag


def tag(store: Store, record: RunRecord, add: Iterable[str] = (), *,
        remove: Iterable[str] = ()) -> list[str]:
    """Add tags (validated) and take others off, in one change; returns the run's tags."""
    adding = [validate_tag(t) for t in add]
    removing = set(remove)

    def change(doc: dict) -> None:
        kept = [t for t in doc.get("tags") or [] if t not in removing]
        doc["tags"] = list(dict.fromkeys([*kept, *adding]))

    return list(change_run_doc(record, change)["tags"])


def untag(store: Store, record: RunRecord, tags: Iterable[str]) -> list[str]:
    return tag(store, record, remove=tags)


def set_note(store: Store, record: RunRecord, text: str, *, append: bool = False) -> str | None:
    """Set the run's description (notes), or add `text` as a new line; "" clears it."""
    def change(doc: dict) -> None:
        old = doc.get("notes")
        if append and old and text:
            doc["notes"] = f"{old}\n{text}"
        elif text or not append:
            doc["notes"] = text or None

    return change_run_doc(record, change).get("notes")


def rename(store: Store, record: RunRecord, new_name: str) -> str:
    """Give the run a new display name (its ID never changes)."""
    validate_name(new_name)
    return change_run_doc(record, lambda doc: doc.__setitem__("name", new_name))["name"]


def change_run_doc(record: RunRecord, change: Callable[[dict], None]) -> dict:
    """`change` applied to the run's document under its lock; a run that moved away is refused."""
    paths = RunPaths(Path(record.dir))

    def guarded(doc: dict) -> None:
        if doc.get("id") != record.id:  # gone (the lock re-created its folder) or replaced
            raise _vanished(record.id)
        change(doc)

    if not paths.file(RUN_DOC).exists():
        raise _vanished(record.id)
    try:
        return update_run_doc(paths, guarded)
    except RunNotFound:
        _remove_ghost(paths)
        raise
    except StoreError:
        if paths.dir.exists():
            raise
        raise _vanished(record.id) from None
    except ValueError:
        raise StoreError(f"run {record.id}: {RUN_DOC} is unreadable; not changed") from None
