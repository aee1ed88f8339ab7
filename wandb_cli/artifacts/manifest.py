"""Artifact manifests, names and references: pure data, no I/O.

Invariant: a `Manifest` that `parse_manifest` returns is safe to act on: every path is
relative, '/'-separated and free of '.', '..' and empty components, every digest is 64 hex
digits (so it cannot steer a blob path), and the manifest's own digest matches its file
list.  A tampered manifest is refused here, before any file is touched.
"""
from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from wandb_cli.errors import StoreError, UsageError, WbrunError
from wandb_cli.store.model import EARLIEST_TIME, LATEST_TIME, iso

FORMAT = 1
LATEST = "latest"
MAX_NAME_CHARS = 128
VERSION_RE = re.compile(r"v(\d+)")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
_FORBIDDEN_CHARS = frozenset("/\\:")


class ArtifactNotFound(WbrunError):
    """No artifact, version or alias matches the reference (exit 1)."""


class ArtifactCorrupt(StoreError):
    """A blob or manifest in the store is missing or does not match its record (exit 1)."""


@dataclass(frozen=True)
class ArtifactFile:
    path: str  # relative, '/'-separated
    size: int
    digest: str  # SHA-256, hex


@dataclass
class Manifest:
    """One version of an artifact; `aliases` and `consumers` are read from their documents."""

    name: str
    version: int
    type: str
    created: float
    producer_run: str | None
    files: list[ArtifactFile]
    size: int
    digest: str
    aliases: list[str] = field(default_factory=list)  # `latest` first when it applies
    consumers: list[str] = field(default_factory=list)  # run ids, in order of first use

    @property
    def ref(self) -> str:
        return f"{self.name}:v{self.version}"

    def to_json(self) -> dict[str, Any]:
        """The immutable on-disk form (no aliases, no consumers)."""
        return {
            "format": FORMAT, "name": self.name, "version": self.version, "type": self.type,
            "created": self.created, "producer_run": self.producer_run, "size": self.size,
            "digest": self.digest, "files": [vars(f) for f in self.files],
        }

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable form for `--format json`."""
        data = self.to_json()
        del data["format"]
        return {**data, "ref": self.ref, "created": iso(self.created),
                "aliases": list(self.aliases), "consumers": list(self.consumers)}


def name_problem(name: str) -> str | None:
    if not name:
        return "it is empty"
    if len(name) > MAX_NAME_CHARS or len(os.fsencode(name)) > 255:
        return f"it is longer than {MAX_NAME_CHARS} characters (or 255 bytes)"
    if name.startswith("."):
        return "it starts with a dot"
    if ".." in name:
        return "it contains '..'"
    if any(c in _FORBIDDEN_CHARS or unicodedata.category(c) == "Cc" for c in name):
        return "it contains '/', '\\', ':' or a control character"
    return None


def check_name(name: str, *, what: str = "artifact name") -> str:
    """`name` if it is a valid artifact name (or alias), else a UsageError saying why."""
    problem = name_problem(name)
    if problem:
        raise UsageError(f"bad {what} {name!r}: {problem}")
    return name


def check_alias(alias: str) -> str:
    check_name(alias, what="alias")
    if alias == LATEST:
        raise UsageError("the alias 'latest' always names the newest version; it cannot be set")
    if VERSION_RE.fullmatch(alias):
        raise UsageError(f"bad alias {alias!r}: it looks like a version number")
    return alias


def parse_ref(ref: str) -> tuple[str, str]:
    """'N', 'N:vK', 'N:latest' or 'N:alias' as (name, selector); a bare name means latest."""
    name, colon, selector = ref.partition(":")
    check_name(name)
    if colon and not selector:
        raise UsageError(f"bad artifact reference {ref!r}: nothing after ':'")
    return name, selector or LATEST


def manifest_digest(files: Iterable[ArtifactFile]) -> str:
    """SHA-256 of the sorted file list: equal digests mean equal content."""
    rows = sorted([f.path, f.size, f.digest] for f in files)
    return hashlib.sha256(orjson.dumps(rows)).hexdigest()


def check_entry(entry: ArtifactFile, where: str) -> None:
    parts = entry.path.split("/")
    if entry.path.startswith("/") or "\0" in entry.path or any(p in ("", ".", "..") for p in parts):
        raise ArtifactCorrupt(f"{where}: unsafe path {entry.path!r} in the manifest; refusing it")
    if not _HEX_DIGEST.fullmatch(entry.digest) or entry.size < 0:
        raise ArtifactCorrupt(f"{where}: bad digest or size for {entry.path!r} in the manifest")


def parse_manifest(data: dict[str, Any], where: str) -> Manifest:
    try:
        files = [ArtifactFile(str(f["path"]), int(f["size"]), str(f["digest"])) for f in data["files"]]
        manifest = Manifest(
            name=str(data["name"]), version=int(data["version"]), type=str(data["type"]),
            created=float(data["created"]), producer_run=data["producer_run"], files=files,
            size=int(data["size"]), digest=str(data["digest"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactCorrupt(f"{where}: malformed manifest ({exc!r})") from exc
    if not EARLIEST_TIME <= manifest.created < LATEST_TIME:
        raise ArtifactCorrupt(f"{where}: malformed manifest (created {manifest.created!r} is not a "
                              "time from year 1 to 9999)")
    for entry in files:
        check_entry(entry, where)
    if manifest_digest(files) != manifest.digest:
        raise ArtifactCorrupt(f"{where}: the manifest does not match its digest (edited?)")
    return manifest
