"""The SDK's files and artifacts: `run.save`, `run.log_artifact`, `run.use_artifact`.

Invariants: an `Artifact` names one stored, immutable version; `download()` writes only files
verified against their digests.  `use_artifact` records the run as a consumer when it is
called (as W&B does), so a version read without downloading still shows in the lineage.  A
disabled run (mode="disabled") saves and logs nothing, and records no consumer, but can still
read artifacts from the store.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wandb_cli.artifacts import store as artifacts
from wandb_cli.artifacts.store import LogResult, Manifest
from wandb_cli.errors import UsageError
from wandb_cli.store.model import iso

if TYPE_CHECKING:
    from wandb_cli.sdk.run import Run

DEFAULT_TYPE = "unspecified"  # W&B's type for an artifact logged from a bare path


class Artifact:
    """W&B's `wandb.Artifact`: made by the program (`Artifact(name, type)`, then `add_file`,
    `add_dir`, `new_file`, `add_reference`, then `run.log_artifact(artifact)`), or one stored
    version (from `log_artifact`/`use_artifact`: `name` is "name:vK", `version` is "vK").
    A draft's files are copied into the store when it is logged; a local `file://` reference
    is copied too (wbrun keeps no pointers to files outside the store)."""

    def __init__(self, name: str, type: str, description: str | None = None,
                 metadata: dict | None = None, incremental: bool | None = None,
                 use_as: str | None = None):
        self._draft_name, self._draft_type = str(name), str(type)
        self.description, self.metadata = description, dict(metadata or {})
        self._entries: dict[str, Path] = {}  # path in the artifact -> source file
        self._staging: Path | None = None
        self._root: Path | None = None
        self.manifest: Manifest | None = None
        self.new: bool | None = None

    @classmethod
    def stored(cls, root: Path, manifest: Manifest, *, new: bool | None = None) -> Artifact:
        artifact = cls(manifest.name, manifest.type)
        artifact._root, artifact.manifest, artifact.new = Path(root), manifest, new
        return artifact

    def _stored_manifest(self) -> Manifest:
        if self.manifest is None:
            raise UsageError(f"artifact {self._draft_name!r} is not logged yet: "
                             "call run.log_artifact(artifact) first")
        return self.manifest

    name = property(lambda self: self.manifest.ref if self.manifest else self._draft_name)
    source_name = name
    version = property(lambda self: f"v{self.manifest.version}" if self.manifest else None)
    type = property(lambda self: self.manifest.type if self.manifest else self._draft_type)
    digest = property(lambda self: self.manifest.digest if self.manifest else None)
    size = property(lambda self: self.manifest.size if self.manifest else
                    sum(p.stat().st_size for p in self._entries.values()))
    aliases = property(lambda self: list(self.manifest.aliases) if self.manifest else [])
    created_at = property(lambda self: iso(self.manifest.created) if self.manifest else None)
    producer_run = property(lambda self: self.manifest.producer_run if self.manifest else None)

    @property
    def files(self) -> list[str]:
        if self.manifest is None:
            return sorted(self._entries)
        return [entry.path for entry in self.manifest.files]

    # --- building a draft ----------------------------------------------------------------
    def _check_draft(self) -> None:
        if self.manifest is not None:
            raise UsageError(f"artifact {self.name} is stored and cannot change; make a new "
                             "wandb.Artifact for a new version")

    def add_file(self, local_path: str | os.PathLike, name: str | None = None, **_ignored: Any):
        self._check_draft()
        source = Path(local_path)
        if not source.is_file():
            raise UsageError(f"add_file: {source} is not a file")
        self._entries[_artifact_path(name or source.name)] = source.resolve()
        return None

    def add_dir(self, local_path: str | os.PathLike, name: str | None = None, **_ignored: Any) -> None:
        self._check_draft()
        folder = Path(local_path)
        if not folder.is_dir():
            raise UsageError(f"add_dir: {folder} is not a folder")
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            relative = path.relative_to(folder).as_posix()
            self._entries[_artifact_path(f"{name}/{relative}" if name else relative)] = path.resolve()

    def new_file(self, name: str, mode: str = "x", encoding: str | None = None):
        """An open file inside the draft (written when the `with` block closes it)."""
        self._check_draft()
        import tempfile

        if self._staging is None:
            self._staging = Path(tempfile.mkdtemp(prefix="wbrun-artifact-"))
        relative = _artifact_path(name)
        target = self._staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        self._entries[relative] = target
        return open(target, mode if "b" in mode else mode, encoding=None if "b" in mode else
                    (encoding or "utf-8"))

    def add_reference(self, uri: Any, name: str | None = None, **_ignored: Any) -> None:
        """A local path or `file://` URI: its content is copied in (other schemes refused)."""
        text = str(uri)
        if "://" in text and not text.startswith("file://"):
            raise UsageError(f"add_reference({text!r}): wbrun keeps local files only")
        path = Path(text[len("file://"):] if text.startswith("file://") else text)
        if path.is_dir():
            self.add_dir(path, name=name)
        else:
            self.add_file(path, name=name)

    def _stage(self) -> Path:
        """A folder holding exactly the draft's files, to store as one version."""
        import tempfile

        if not self._entries:
            raise UsageError(f"artifact {self._draft_name!r} has no files")
        folder = Path(tempfile.mkdtemp(prefix="wbrun-artifact-stage-"))
        for relative, source in self._entries.items():
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        return folder

    # --- reading a stored version --------------------------------------------------------
    def download(self, root: str | os.PathLike | None = None, **_ignored: Any) -> str:
        """Put the version's files under `root` (default ./artifacts/<name>:v<K>), verified."""
        manifest = self._stored_manifest()
        target = Path(root) if root is not None else artifacts.default_target_dir(manifest, Path.cwd())
        artifacts.get_artifact(self._root or _default_root(), manifest.ref, target)
        return str(target)

    def get_path(self, name: str):
        raise UsageError("Artifact.get_path is not supported by wbrun; use download()")

    def wait(self, timeout: float | None = None) -> Artifact:
        return self  # logging is synchronous here; kept for W&B code that calls it

    def save(self) -> None:
        """W&B saves a draft to the server here; wbrun stores it when it is logged."""

    def __repr__(self) -> str:
        return f"<Artifact {self.name} ({self.type})>"


def _default_root() -> Path:
    from wandb_cli.store.layout import resolve_root

    return resolve_root(None)


def _artifact_path(name: str) -> str:
    parts = [p for p in str(name).replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise UsageError(f"bad path in artifact: {name!r}")
    return "/".join(parts)


def save(run: Run, glob_str: str | os.PathLike, base_path: str | os.PathLike | None,
         policy: str) -> list[str]:
    """The files (under the run's files/) that the pattern names now."""
    from wandb_cli.artifacts import runfiles as files

    if run._live is None:
        return []
    saved = files.save(run._live.paths.dir, [os.fspath(glob_str)], policy=policy,
                       base_path=base_path, cwd=Path.cwd())
    return [str(run._live.paths.files.joinpath(*p.split("/"))) for p in saved[0].files]


def _store_root(run: Run) -> Path:
    if run._live is not None:
        return run._live.store.root
    from wandb_cli.store.layout import resolve_root

    return resolve_root(None)


def log_artifact(run: Run, artifact_or_path: Any, *, name: str | None, type: str | None,
                 aliases: list[str] | None) -> Artifact | None:
    """Store a file or folder as the next version of `name` (or find it is already one)."""
    draft = artifact_or_path if isinstance(artifact_or_path, Artifact) else None
    if draft is None and not isinstance(artifact_or_path, (str, os.PathLike)):
        raise TypeError("log_artifact takes a wandb.Artifact or the path of a file or folder")
    if run._live is None:
        return draft
    if draft is not None:
        draft._check_draft()
        path = draft._stage()
        name, type = name or draft._draft_name, type or draft._draft_type
    else:
        path = Path(artifact_or_path)
    try:
        result = artifacts.log_artifact(
            _store_root(run), path, name or f"run-{run.id}-{path.name}", type or DEFAULT_TYPE,
            # W&B programs pass "latest" freely; here it always names the newest version
            [a for a in aliases or [] if a != "latest"], producer_run=run.id,
            clock=run._live.store.clock)
    finally:
        if draft is not None:
            shutil.rmtree(path, ignore_errors=True)
    print(f"wbrun: {describe_log(result)}", file=sys.stderr)
    if draft is not None:
        draft._root, draft.manifest, draft.new = _store_root(run), result.manifest, result.new
        return draft
    return Artifact.stored(_store_root(run), result.manifest, new=result.new)


def describe_log(result: LogResult) -> str:
    """The line `log_artifact` prints: which version was made, or which one it already is."""
    manifest = result.manifest
    if result.new:
        return f"logged artifact {manifest.ref} ({describe_size(manifest)})"
    return f"artifact {manifest.name}: identical content is already {manifest.ref}; nothing new stored"


def describe_size(manifest: Manifest) -> str:
    count = len(manifest.files)
    from wandb_cli.textfmt import fmt_size

    return f"{count} file{'s' if count != 1 else ''}, {fmt_size(manifest.size)}"


def use_artifact(run: Run, artifact_or_name: Any, *, type: str | None) -> Artifact:
    """The version a reference names ("N", "N:vK", "N:latest", "N:alias"), recorded as used."""
    if isinstance(artifact_or_name, Artifact):
        artifact_or_name = artifact_or_name.name
    ref = str(artifact_or_name).rsplit("/", 1)[-1]  # W&B's "entity/project/name:alias" form
    root = _store_root(run)
    manifest = artifacts.resolve(root, ref)
    if type is not None and type != manifest.type:
        raise UsageError(f"artifact {manifest.ref} has type {manifest.type!r}, not {type!r}")
    if run._live is not None:
        manifest = artifacts.record_consumer(root, manifest.ref, run.id)
    return Artifact.stored(root, manifest)
