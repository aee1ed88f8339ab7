"""The file-backed media value and how it lands in a run: `files/media/<kind>/<key>_<step>_<id>.<ext>`.

Invariants: a media file is written once, whole (temporary file + rename), and never leaves
`files/media/`: a key's `/` makes sub-folders as in W&B, but `..`, empty parts and
backslashes cannot climb out.  A value logged again reuses the file it got the first time
(W&B binds a value to its run once), so logging the same Image every step costs one file.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from wandb_cli.errors import UsageError
from wandb_cli.store.mediafiles import MEDIA_DIR


def safe_key_path(key: str) -> str:
    """The key as a relative file path: `/` kept as folders, nothing that climbs out."""
    parts = []
    for part in str(key).replace("\\", "_").replace("\0", "_").split("/"):
        parts.append("_" if part in ("", ".", "..") else part)
    return "/".join(parts)


def media_file_name(key: str, step: int | str, digest: str, ext: str) -> str:
    """W&B's `_wb_filename`: `<key>_<step>_<id><ext>`, the id the first 20 hex digits of the
    content's sha256."""
    return f"{safe_key_path(key)}_{step}_{digest[:20]}{ext}"


def write_media_file(files_dir: str | Path, subdir: str, name: str, content: bytes) -> str:
    """Write `content` under files/media/<subdir>/<name> (skipped when the same bytes are
    already there); return the path relative to files/ with `/` separators."""
    from wandb_cli.store import jsonio

    rel = f"{MEDIA_DIR}/{subdir}/{name}"
    target = Path(files_dir) / rel
    if not target.resolve().is_relative_to(Path(files_dir).resolve() / MEDIA_DIR):
        raise UsageError(f"media key {name!r} would leave the run's media folder")
    if target.is_file() and target.stat().st_size == len(content):
        return rel  # the name holds the content hash: same name, same size, same bytes
    jsonio.make_dirs(target.parent)
    jsonio.write_bytes_atomic(target, content)
    return rel


class WBValue:
    """A value with W&B's JSON form, computed when it is logged (`key`, `step` name files)."""

    def to_json(self, files_dir: str | Path, key: str, step: int | str) -> dict:
        raise NotImplementedError


class Media(WBValue):
    """A value stored as one file: subclasses set `log_type`, `subdir` and `_content`/`_ext`.

    The bytes are produced when the value is made (as W&B does), so a later change to the
    array it came from does not change what is logged."""

    log_type = "file"
    subdir = "files"

    def __init__(self, caption: str | None = None):
        self._caption = caption
        self._content: bytes = b""
        self._ext = ""
        self._bound: dict[str, dict] = {}

    def _set_content(self, content: bytes, ext: str) -> None:
        self._content = bytes(content)
        self._ext = ext if ext.startswith(".") else f".{ext}"
        self._sha256 = hashlib.sha256(self._content).hexdigest()

    @property
    def sha256(self) -> str:
        return self._sha256

    def extra_json(self) -> dict:
        """W&B's fields beyond `_type`, `path`, `sha256`, `size`, `caption`."""
        return {}

    def to_json(self, files_dir: str | Path, key: str, step: int | str) -> dict:
        cached = self._bound.get(str(files_dir))
        if cached is not None:
            return dict(cached)
        name = media_file_name(key, step, self._sha256, self._ext)
        path = write_media_file(files_dir, self.subdir, name, self._content)
        ref: dict[str, Any] = {}
        if self._caption is not None:
            ref["caption"] = self._caption
        ref.update({"_type": self.log_type, "sha256": self._sha256,
                    "size": len(self._content), "path": path, **self.extra_json()})
        self._bound[str(files_dir)] = ref
        return dict(ref)


def read_source(path: str | Path) -> bytes:
    """A user-given media file's bytes, with a one-line error when it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read media file {str(path)!r}: {exc.strerror or exc}") from None
