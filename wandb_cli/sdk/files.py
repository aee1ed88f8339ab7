"""The SDK's files and artifacts: `run.save`, `run.log_artifact`, `run.use_artifact`.

Invariants: an `Artifact` names one stored, immutable version; `download()` writes only files
verified against their digests.  `use_artifact` records the run as a consumer when it is
called (as W&B does), so a version read without downloading still shows in the lineage.  A
disabled run (mode="disabled") saves and logs nothing, and records no consumer, but can still
read artifacts from the store.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wandb_cli.artifacts import store as artifacts
from wandb_cli.artifacts.store import LogResult, Manifest
from wandb_cli.store.model import iso

if TYPE_CHECKING:
    from wandb_cli.sdk.run import Run

DEFAULT_TYPE = "unspecified"  # W&B's type for an artifact logged from a bare path


class Artifact:
    """One version of an artifact, W&B-style (`name` is "name:vK", `version` is "vK")."""

    def __init__(self, root: Path, manifest: Manifest, *, new: bool | None = None):
        self._root, self.manifest, self.new = Path(root), manifest, new

    name = property(lambda self: self.manifest.ref)
    source_name = name
    version = property(lambda self: f"v{self.manifest.version}")
    type = property(lambda self: self.manifest.type)
    digest = property(lambda self: self.manifest.digest)
    size = property(lambda self: self.manifest.size)
    aliases = property(lambda self: list(self.manifest.aliases))
    created_at = property(lambda self: iso(self.manifest.created))
    producer_run = property(lambda self: self.manifest.producer_run)

    @property
    def files(self) -> list[str]:
        return [entry.path for entry in self.manifest.files]

    def download(self, root: str | os.PathLike | None = None) -> str:
        """Put the version's files under `root` (default ./artifacts/<name>:v<K>), verified."""
        target = Path(root) if root is not None else artifacts.default_target_dir(
            self.manifest, Path.cwd())
        artifacts.get_artifact(self._root, self.manifest.ref, target)
        return str(target)

    def wait(self, timeout: float | None = None) -> Artifact:
        return self  # logging is synchronous here; kept for W&B code that calls it

    def __repr__(self) -> str:
        return f"<Artifact {self.name} ({self.type})>"


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
    if not isinstance(artifact_or_path, (str, os.PathLike)):
        raise TypeError("wbrun's log_artifact takes the path of a file or folder")
    if run._live is None:
        return None
    path = Path(artifact_or_path)
    result = artifacts.log_artifact(
        _store_root(run), path, name or f"run-{run.id}-{path.name}", type or DEFAULT_TYPE,
        aliases or [], producer_run=run.id, clock=run._live.store.clock)
    print(f"wbrun: {describe_log(result)}", file=sys.stderr)
    return Artifact(_store_root(run), result.manifest, new=result.new)


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
    from wandb_cli.errors import UsageError

    if isinstance(artifact_or_name, Artifact):
        artifact_or_name = artifact_or_name.name
    ref = str(artifact_or_name).rsplit("/", 1)[-1]  # W&B's "entity/project/name:alias" form
    root = _store_root(run)
    manifest = artifacts.resolve(root, ref)
    if type is not None and type != manifest.type:
        raise UsageError(f"artifact {manifest.ref} has type {manifest.type!r}, not {type!r}")
    if run._live is not None:
        manifest = artifacts.record_consumer(root, manifest.ref, run.id)
    return Artifact(root, manifest)
