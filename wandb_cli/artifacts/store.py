"""The artifact store: versioned files and folders that runs produce and consume, kept by content.

Invariant: a version exists exactly when its manifest `vK.json` exists, and a manifest is
renamed into place only after every blob it names is in the store, under the artifact's lock
(which also claims the number K).  So an interrupted log leaves no half-made version, at
worst an unreferenced blob or a `.tmp-*` file.  Manifests never change once written; what
moves (aliases) or grows (consumers) lives in small documents rewritten whole by atomic rename
under the same lock.  Run ids are plain strings here: nothing refers to a run's folder, so
deleting a run never breaks an artifact.

Layout under the store root (format 1):

    .wbrun/artifacts/
      blobs/ab/cdef...         file content named by its SHA-256 ("ab" + "cdef..." is the
                               hex digest); read-only, shared by every version of every
                               artifact.  `blobs/.tmp-*` are unfinished writes.
      names/<name>/
        .lock                  held to claim a version or rewrite the documents below
        v0.json, v1.json ...   one immutable manifest per version
        aliases.json           {"<alias>": <version>, ...}.  `latest` is never stored: it is
                               always the highest version.
        consumers.json         {"<version>": ["<run id>", ...]}: runs that got the version

A manifest is {"format": 1, "name", "version", "type", "created" (POSIX seconds),
"producer_run" (run id or null), "size" (total bytes), "digest", "files": [{"path", "size",
"digest"}, ...]}, files sorted by path.  Paths are relative and '/'-separated, never absolute
and never with '.', '..' or empty components.  `digest` is `manifest_digest(files)`, so two
versions with equal digests hold the same content; identical content is never stored as a
second version of the same name.
"""
from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wandb_cli.artifacts.io import copy_hashing, locked, read_doc, store_errors, write_atomic, write_doc, write_file
from wandb_cli.artifacts.manifest import (
    FORMAT,
    LATEST,
    MAX_NAME_CHARS,
    VERSION_RE,
    ArtifactCorrupt,
    ArtifactFile,
    ArtifactNotFound,
    Manifest,
    check_alias,
    check_name,
    manifest_digest,
    name_problem,
    parse_manifest,
    parse_ref,
)
from wandb_cli.errors import UsageError
from wandb_cli.store import jsonio

__all__ = [
    "FORMAT", "LATEST", "MAX_NAME_CHARS", "ArtifactCorrupt", "ArtifactFile", "ArtifactNotFound",
    "ArtifactSummary", "ArtifactUse", "LogResult", "Manifest", "add_alias", "artifacts_of_run",
    "check_alias", "check_name", "default_target_dir", "get_artifact", "list_artifacts",
    "log_artifact", "manifest_digest", "parse_ref", "record_consumer", "resolve",
    "runs_artifacts", "show",
]

ALIASES_FILE, CONSUMERS_FILE = "aliases.json", "consumers.json"
_MANIFEST_FILE = re.compile(r"v(\d+)\.json")


@dataclass(frozen=True)
class LogResult:
    manifest: Manifest
    new: bool  # False when identical content was already this version

    @property
    def version(self) -> int:
        return self.manifest.version

    @property
    def ref(self) -> str:
        return self.manifest.ref


@dataclass(frozen=True)
class ArtifactSummary:
    name: str
    type: str
    versions: list[int]
    aliases: dict[str, int]  # stored aliases only; `latest` is `latest.version`
    latest: Manifest


@dataclass(frozen=True)
class ArtifactUse:
    """How one run touched one version, and which other runs touched it too."""

    ref: str
    role: str  # "produced" or "consumed"
    other_runs: tuple[str, ...]

    @property
    def shared(self) -> bool:
        return bool(self.other_runs)


def default_target_dir(manifest: Manifest, cwd: Path) -> Path:
    """Where `get` puts a version when the user names no folder."""
    return cwd / "artifacts" / manifest.ref


def _artifacts_dir(root: Path) -> Path:
    return Path(root) / ".wbrun" / "artifacts"


def _blob_path(root: Path, digest: str) -> Path:
    return _artifacts_dir(root) / "blobs" / digest[:2] / digest[2:]


def _name_dir(root: Path, name: str) -> Path:
    return _artifacts_dir(root) / "names" / name


def _put_blob(root: Path, source: Path) -> tuple[str, int]:
    """Store one file's content as a blob, hashed while it is copied; returns (digest, size)."""
    blobs = _artifacts_dir(root) / "blobs"
    jsonio.make_dirs(blobs)

    def place(temp: Path, hashed: tuple[str, int]) -> None:
        os.chmod(temp, 0o444)
        final = _blob_path(root, hashed[0])
        jsonio.make_dirs(final.parent)
        os.replace(temp, final)  # over an existing blob too: that heals a damaged one

    with open(source, "rb") as src:
        return write_atomic(blobs, lambda out: copy_hashing(src, out), place)


def _source_files(root: Path, source: Path) -> Iterator[tuple[str, Path]]:
    """(relative posix path, file) for a file, or for each regular file under a folder."""
    if source.is_file():
        yield source.name, source
        return
    if not source.is_dir():
        raise UsageError(f"cannot log {str(source)!r}: no such file or folder")
    own_store = (Path(root) / ".wbrun").resolve()
    for dirpath, dirnames, filenames in os.walk(source):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if (here / d).resolve() != own_store]  # not into itself
        for filename in filenames:
            full = here / filename
            if _is_regular_file(full):
                yield full.relative_to(source).as_posix(), full


def _store_files(root: Path, source: Path) -> list[ArtifactFile]:
    """Every file under `source` stored as a blob, by path; outside any lock."""
    files = []
    for relative, full in sorted(_source_files(root, source)):
        digest, size = _put_blob(root, full)
        files.append(ArtifactFile(relative, size, digest))
    if not files:
        raise UsageError(f"cannot log {str(source)!r}: it holds no files")
    return files


def _is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)  # follows links; skips fifos, sockets
    except OSError:
        return False


class _Name:
    """One artifact name's versions and documents, read once."""

    def __init__(self, root: Path, name: str):
        self.name, self.dir = name, _name_dir(root, name)
        found = (_MANIFEST_FILE.fullmatch(p.name) for p in self._entries())
        self.versions = sorted(int(m.group(1)) for m in found if m)
        self.aliases: dict[str, int] = read_doc(self.dir / ALIASES_FILE)
        if not all(type(version) is int for version in self.aliases.values()):
            raise ArtifactCorrupt(f"artifact store: {self.dir / ALIASES_FILE} does not map each "
                                  "alias to a version number")
        self.consumers: dict[str, list[str]] = read_doc(self.dir / CONSUMERS_FILE)
        if not all(type(runs) is list and all(type(run) is str for run in runs)
                   for runs in self.consumers.values()):
            raise ArtifactCorrupt(f"artifact store: {self.dir / CONSUMERS_FILE} does not map each "
                                  "version to a list of run IDs")

    def _entries(self) -> list[Path]:
        return list(self.dir.iterdir()) if self.dir.is_dir() else []

    def manifest(self, version: int) -> Manifest:
        where = f"{self.name}:v{version}"
        manifest = parse_manifest(read_doc(self.dir / f"v{version}.json"), where)
        if (manifest.name, manifest.version) != (self.name, version):
            raise ArtifactCorrupt(f"{where}: the manifest names {manifest.ref}")
        stored = sorted(a for a, v in self.aliases.items() if v == version)
        manifest.aliases = ([LATEST] if version == self.versions[-1] else []) + stored
        manifest.consumers = list(self.consumers.get(str(version), []))
        return manifest

    def select(self, selector: str) -> int:
        if not self.versions:
            raise ArtifactNotFound(f"no artifact named {self.name!r}")
        if selector == LATEST:
            return self.versions[-1]
        number = VERSION_RE.fullmatch(selector)
        version = int(number.group(1)) if number else self.aliases.get(selector)
        if version in self.versions:
            return version
        if number:
            have = ", ".join(f"v{v}" for v in self.versions)
            raise ArtifactNotFound(f"artifact {self.name!r} has no version {selector!r} (it has {have})")
        have = ", ".join(sorted(self.aliases)) or "none but latest"
        raise ArtifactNotFound(f"artifact {self.name!r} has no alias {selector!r} (aliases: {have})")

    def check_type(self, type: str) -> None:
        """A name keeps the type of its first version."""
        if self.versions:
            first = self.manifest(self.versions[0]).type
            if first != type:
                raise UsageError(f"artifact {self.name!r} has type {first!r}, not {type!r}")

    def set_aliases(self, aliases: Iterable[str], version: int) -> None:
        """Point each alias at `version`, moving it from any other; call under the lock."""
        wanted = {alias: version for alias in aliases}
        if any(self.aliases.get(a) != v for a, v in wanted.items()):
            self.aliases.update(wanted)
            write_doc(self.dir / ALIASES_FILE, self.aliases)


@store_errors()
def log_artifact(
    root: Path, path: Path, name: str, type: str, aliases: Iterable[str] = (),
    producer_run: str | None = None, clock: Callable[[], float] = time.time,
) -> LogResult:
    """Store a file or folder as the next version of `name`, or find the version it already is."""
    check_name(name)
    check_name(type, what="artifact type")
    aliases = list(dict.fromkeys(check_alias(a) for a in aliases))
    _Name(root, name).check_type(type)  # before storing any blob; again under the lock
    files = _store_files(root, Path(path))
    digest = manifest_digest(files)
    with locked(_name_dir(root, name)):
        state = _Name(root, name)
        state.check_type(type)
        existing = [state.manifest(v) for v in state.versions]
        same = next((m for m in existing if m.digest == digest), None)
        version = same.version if same else (state.versions[-1] + 1 if state.versions else 0)
        if same is None:
            fresh = Manifest(name, version, type, clock(), producer_run, files,
                             sum(f.size for f in files), digest)
            write_doc(state.dir / f"v{version}.json", fresh.to_json())
            state.versions.append(version)
        state.set_aliases(aliases, version)
        return LogResult(state.manifest(version), new=same is None)


@store_errors()
def resolve(root: Path, ref: str) -> Manifest:
    """The manifest that 'N', 'N:vK', 'N:latest' or 'N:alias' names, with aliases and consumers."""
    name, selector = parse_ref(ref)
    state = _Name(root, name)
    return state.manifest(state.select(selector))


def show(root: Path, ref: str) -> Manifest:
    """Everything `artifacts show` prints: files, size, type, created, aliases, lineage."""
    return resolve(root, ref)


@store_errors()
def get_artifact(
    root: Path, ref: str, target_dir: Path, consumer_run: str | None = None,
) -> Manifest:
    """Put a version's files under `target_dir`, each verified before it takes its name."""
    manifest = resolve(root, ref)
    target = Path(target_dir)
    target.mkdir(parents=True, exist_ok=True)
    for entry in manifest.files:
        _place_file(root, manifest, entry, target)
    return manifest if consumer_run is None else record_consumer(root, manifest.ref, consumer_run)


@store_errors()
def record_consumer(root: Path, ref: str, run_id: str) -> Manifest:
    """Record `run_id` as a consumer of the version `ref` names (once); `use_artifact` does
    this before any download, as W&B does."""
    manifest = resolve(root, ref)
    state_dir = _name_dir(root, manifest.name)
    with locked(state_dir):
        state = _Name(root, manifest.name)
        runs = state.consumers.setdefault(str(manifest.version), [])
        if run_id not in runs:
            runs.append(run_id)
            write_doc(state_dir / CONSUMERS_FILE, state.consumers)
        return state.manifest(manifest.version)


def _place_file(root: Path, manifest: Manifest, entry: ArtifactFile, target: Path) -> None:
    final = target.joinpath(*entry.path.split("/"))
    # A link already inside the target could still lead out of it: check where it resolves.
    if not final.parent.resolve().is_relative_to(target.resolve()):
        raise ArtifactCorrupt(f"{manifest.ref}: {entry.path!r} would land outside {target}")
    jsonio.make_dirs(final.parent)
    try:
        src = open(_blob_path(root, entry.digest), "rb")
    except FileNotFoundError:
        raise ArtifactCorrupt(
            f"{manifest.ref}: the content of {entry.path!r} is missing from the store") from None
    with src:
        write_file(final, lambda out: _copy_verified(src, out, entry, manifest.ref), durable=False)


def _copy_verified(src: Any, out: Any, entry: ArtifactFile, ref: str) -> None:
    if copy_hashing(src, out) != (entry.digest, entry.size):
        raise ArtifactCorrupt(f"{ref}: the stored content of {entry.path!r} does not match its "
                              "digest (tampered or damaged); the file was not written")


@store_errors()
def add_alias(root: Path, ref: str, alias: str) -> Manifest:
    """Point `alias` at the version `ref` names, moving it from any other version."""
    check_alias(alias)
    version = resolve(root, ref)
    with locked(_name_dir(root, version.name)):
        state = _Name(root, version.name)
        state.set_aliases([alias], version.version)
        return state.manifest(version.version)


def _names(root: Path, unreadable: list[str]) -> Iterator[_Name]:
    """Every artifact name with at least one version, in name order; one whose documents
    cannot be read is left out and named in `unreadable` (one damaged name does not hide
    the others)."""
    names_dir = _artifacts_dir(root) / "names"
    folders = sorted(p.name for p in names_dir.iterdir()) if names_dir.is_dir() else []
    for folder in folders:
        if name_problem(folder) is None:
            try:
                state = _Name(root, folder)
            except (ArtifactCorrupt, OSError) as exc:
                unreadable.append(_left_out(exc))
                continue
            if state.versions:  # a name whose first log was interrupted has none
                yield state


@store_errors()
def list_artifacts(root: Path, unreadable: list[str] | None = None) -> list[ArtifactSummary]:
    """One summary per artifact name, by name; reads only each name's latest manifest.  A
    name whose documents or latest manifest cannot be read is left out, named in
    `unreadable`."""
    unreadable = [] if unreadable is None else unreadable
    summaries = []
    for state in _names(root, unreadable):
        for latest in _manifests(state, state.versions[-1:], unreadable):
            summaries.append(ArtifactSummary(state.name, latest.type, list(state.versions),
                                             dict(state.aliases), latest))
    return summaries


def _manifests(state: _Name, versions: list[int], unreadable: list[str]) -> Iterator[Manifest]:
    for version in versions:
        try:
            yield state.manifest(version)
        except (ArtifactCorrupt, OSError) as exc:  # (OSError: say, another user's, unreadable here)
            unreadable.append(_left_out(exc))


def _left_out(exc: Exception) -> str:
    """What a listing that goes on without a document says of it (as store_errors would)."""
    return str(exc) if isinstance(exc, ArtifactCorrupt) else f"artifact store: {exc}"


@store_errors()
def runs_artifacts(root: Path, run_id: str,
                   unreadable: list[str] | None = None) -> tuple[list[Manifest], list[Manifest]]:
    """(versions the run consumed, versions it produced), by name then version; a manifest
    that cannot be read is left out, named in `unreadable` (it cannot say which runs it
    belongs to, and one damaged version of any artifact does not stop every run's)."""
    unreadable = [] if unreadable is None else unreadable
    inputs, outputs = [], []
    every = (manifest for state in _names(root, unreadable)
             for manifest in _manifests(state, state.versions, unreadable))
    for manifest in every:
        if run_id in manifest.consumers:
            inputs.append(manifest)
        if manifest.producer_run == run_id:
            outputs.append(manifest)
    return inputs, outputs


def artifacts_of_run(root: Path, run_id: str) -> list[ArtifactUse]:
    """What a run produced and consumed, and which other runs use the same versions.

    Deleting a run deletes none of these: versions live in the store, not in run folders.
    """
    inputs, outputs = runs_artifacts(root, run_id)
    uses = []
    for role, manifests in (("produced", outputs), ("consumed", inputs)):
        for manifest in manifests:
            users = [manifest.producer_run, *manifest.consumers]
            others = tuple(dict.fromkeys(u for u in users if u and u != run_id))
            uses.append(ArtifactUse(manifest.ref, role, others))
    return uses
