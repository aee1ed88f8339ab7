"""File primitives of the artifact store: streamed, hashed, atomic, locked.

Invariant: a file written here appears under its final name complete or not at all (written
to an O_EXCL temp file beside it, then renamed), and content passes through a fixed-size
buffer, so memory stays flat whatever a file's size.
"""
from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from wandb_cli.artifacts.manifest import ArtifactCorrupt
from wandb_cli.errors import StoreError
from wandb_cli.store import jsonio

CHUNK_BYTES = 1 << 20
LOCK_TIMEOUT_S = 60.0
_temp_counter = itertools.count()


@contextmanager
def store_errors() -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise StoreError(f"artifact store: {exc}") from exc


@contextmanager
def locked(name_dir: Path) -> Iterator[None]:
    """Hold `name_dir/.lock` (a timeout is a StoreError; a dead holder never blocks for good)."""
    from wandb_cli.store.layout import lock

    jsonio.make_dirs(name_dir)
    with lock(name_dir / ".lock", timeout=LOCK_TIMEOUT_S):
        yield


def create_temp(folder: Path, stem: str) -> tuple[int, Path]:
    """A new file in `folder` that nobody else can have opened (O_EXCL), honouring the umask."""
    while True:
        path = folder / f".tmp-{stem}-{os.getpid()}-{next(_temp_counter)}"
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, jsonio.FILE_MODE), path
        except FileExistsError:
            continue  # left by an earlier process with our pid


def unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def copy_hashing(src: Any, out: Any) -> tuple[str, int]:
    """Copy in fixed chunks, hashing as we go: memory stays flat whatever the size."""
    digest, size = hashlib.sha256(), 0
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    while count := src.readinto(buffer):
        digest.update(view[:count])
        out.write(view[:count])
        size += count
    return digest.hexdigest(), size


def write_atomic(
    folder: Path, fill: Callable[[Any], Any], place: Callable[[Path, Any], None],
    *, durable: bool = True,
) -> Any:
    """Write through `fill(file)` to a temp file in `folder`, then `place(temp, result)` it.

    `place` renames the temp file to its final name; on any failure the temp file goes.
    """
    fd, temp = create_temp(folder, "w")
    try:
        with open(fd, "wb") as out:
            result = fill(out)
            if durable:  # the store's own files: a crash must not leave a renamed empty file
                out.flush()
                os.fsync(out.fileno())
        place(temp, result)
        return result
    except BaseException:
        unlink_quietly(temp)
        raise


def write_file(final: Path, fill: Callable[[Any], Any], *, durable: bool = True) -> Any:
    """Write `final` whole or not at all (see `write_atomic`)."""
    return write_atomic(final.parent, fill, lambda temp, _: os.replace(temp, final), durable=durable)


def write_doc(path: Path, data: Any) -> None:
    write_file(path, lambda out: out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2)))


def read_doc(path: Path) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except orjson.JSONDecodeError as exc:
        raise ArtifactCorrupt(f"artifact store: {path} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ArtifactCorrupt(f"artifact store: {path} is not a JSON object")
    return data
