"""JSON in and out, the same way everywhere.

Invariants: documents are replaced whole (write a temporary file beside, then rename), so a
reader sees the old or the new version, never half of one, and a full disk leaves the old one.
Lines are appended whole with one write; a reader skips a torn last line.  NaN and
+/-Infinity are written as the tokens `NaN`, `Infinity`, `-Infinity` (as Python's json and
W&B do) and read back as floats, never as null; integers of any size read back as integers.
Files are created with the user's umask, but never writable by others; in a shared store
(a group-writable folder) new folders and lock files are group-writable, whatever the umask.
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson

from wandb_cli.errors import StoreError

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
# The user's umask decides, except that no one else may ever write (even under umask 0).
FILE_MODE = 0o664
DIR_MODE = 0o775


def make_dirs(path: Path) -> None:
    """mkdir -p whose every new folder gets DIR_MODE (less the umask): never world-writable,
    whatever the umask.  Path.mkdir(parents=True) gives parents the default 0o777."""
    path = Path(path)
    missing = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue
        share_like_parent(folder)


def share_like_parent(path: Path, fd: int | None = None) -> None:
    """In a shared store, what this process just created (a folder, a lock file) is shared
    too: when the folder holding `path` is group-writable, `path` becomes group-writable
    whatever this user's umask (a folder under a setgid folder keeps its setgid bit, so the
    group carries on down).  Elsewhere nothing changes.  Only our own files are touched."""
    import stat

    try:
        parent = os.stat(Path(path).parent)
        own = os.fstat(fd) if fd is not None else os.stat(path)
    except OSError:
        return
    if not parent.st_mode & stat.S_IWGRP or own.st_uid != os.geteuid():
        return
    wanted = stat.S_IMODE(own.st_mode) | stat.S_IWGRP | stat.S_IRGRP
    if stat.S_ISDIR(own.st_mode):
        wanted |= stat.S_IXGRP | (parent.st_mode & stat.S_ISGID)
    if wanted != stat.S_IMODE(own.st_mode):
        try:
            os.fchmod(fd, wanted) if fd is not None else os.chmod(path, wanted)
        except OSError:
            pass


def _default(value: Any) -> Any:
    """Scalars from numpy/torch and other libraries that offer `.item()`."""
    item = getattr(value, "item", None)
    if item is not None:
        try:
            return item()
        except (TypeError, ValueError, RuntimeError):
            pass
    raise TypeError(f"value of type {type(value).__name__} is not JSON-serializable")


def _plain(value: Any) -> Any:
    """A copy that the standard json module can write (for the rare NaN/odd-string path)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    try:  # what orjson writes natively (datetime, date, UUID, dataclass...): as it writes it
        return orjson.loads(orjson.dumps(value, default=_default, option=_OPTIONS))
    except (orjson.JSONEncodeError, TypeError):
        return _plain(_default(value))


def has_nonfinite(value: Any) -> bool:
    """Whether a NaN or an infinity is anywhere in `value` (orjson would write it as null).
    A loop over a stack, not recursion: `runs ls --format json` walks every listed run's
    config and summary with it."""
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        kind = type(item)
        if kind is float:
            if item - item != 0.0:  # NaN - NaN and inf - inf are NaN
                return True
        elif kind is dict:
            for inner in item.values():
                if type(inner) in _SIMPLE:
                    continue
                push(inner)
        elif kind is list or kind is tuple:
            push_all = stack.extend
            push_all(item)
        elif kind in _SIMPLE:
            continue
        elif isinstance(item, float):
            if not math.isfinite(item):
                return True
        elif isinstance(item, (dict, list, tuple)):
            push(list(item.values()) if isinstance(item, dict) else list(item))
        elif hasattr(item, "tolist") and not isinstance(item, (str, bytes)):
            push(_plain(item))
    return False


_SIMPLE = frozenset({str, int, bool, type(None)})


def _dumps_std(value: Any, *, indent: int | None = None) -> bytes:
    separators = (",", ": ") if indent else (",", ":")
    text = json.dumps(_plain(value), allow_nan=True, indent=indent, separators=separators,
                      ensure_ascii=True)
    return text.encode("ascii")


def dumps(value: Any) -> bytes:
    """Compact JSON bytes; raises TypeError for a value no JSON can hold."""
    try:
        out = orjson.dumps(value, default=_default, option=_OPTIONS)
    except orjson.JSONEncodeError as exc:
        # Strings with lone surrogates (undecodable bytes from argv or a pipe) land here too.
        try:
            return _dumps_std(value)
        except (TypeError, ValueError):
            raise TypeError(str(exc)) from None
        except RecursionError:  # nested deeper than orjson's 254 levels and Python's stack
            raise TypeError("value nested too deeply to store as JSON") from None
    if b"null" in out and has_nonfinite(value):
        return _dumps_std(value)
    return out


class NotPlain(Exception):
    """A value that is not a JSON type (an array, a tensor, a media object...)."""


def _refuse(value: Any) -> Any:
    raise NotPlain(type(value).__name__)


# `--format json`'s output: indented by two spaces (views/output.print_json)
PRETTY = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS


def pretty_item(value: Any) -> bytes:
    """`value` as one item of an indented JSON array (orjson, PRETTY): the text between the
    array's `[\n` and `\n]`, items joined by `,\n`.  Raises TypeError where orjson cannot."""
    return orjson.dumps([value], option=PRETTY)[2:-2]


def dumps_plain(value: Any) -> bytes:
    """`dumps` for values made of JSON types only, at the same cost; raises NotPlain at the
    first other value (numpy and torch values included), so a caller can convert first."""
    try:
        out = orjson.dumps(value, default=_refuse, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError as exc:
        if isinstance(exc.__cause__, NotPlain):
            raise NotPlain(str(exc.__cause__)) from None
        return dumps(value)  # odd strings, huge integers: the general path
    if b"null" in out and has_nonfinite(value):
        return _dumps_std(value)
    return out


# orjson reads an integer beyond 64 bits as a float, silently; 20 digits in a row may be one.
_LONG_DIGITS_TEXT = re.compile(r"\d{20}")
# For bytes the same test without a regex (10x faster: `runs ls` checks every index line).
_DIGITS_TO_ZERO, _TWENTY_ZEROS = bytes.maketrans(b"123456789", b"000000000"), b"0" * 20
_NINETEEN_ZEROS = _TWENTY_ZEROS[:19]


def _has_long_digits(data: bytes | str) -> bool:
    if isinstance(data, bytes):
        return _TWENTY_ZEROS in data.translate(_DIGITS_TO_ZERO)
    return _LONG_DIGITS_TEXT.search(data) is not None


def has_long_digits(data: bytes | str) -> bool:
    """Whether `data` may hold an integer orjson would read as a float (20 digits in a row)."""
    return _has_long_digits(data)


def may_exceed_int64(data: bytes) -> bool:
    """Whether `data` may hold an integer beyond a signed 64-bit one (19 digits in a row):
    orjson reads a negative one below -2**63 as a float too (has_long_digits is kept at 20
    digits for the index, whose signatures, nanosecond times, have 19)."""
    return _NINETEEN_ZEROS in data.translate(_DIGITS_TO_ZERO)


def loads(data: bytes | str) -> Any:
    if not _has_long_digits(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)  # NaN/Infinity tokens, escaped lone surrogates, big integers


def read_json(path: Path, default: Any = None) -> Any:
    """A whole document, or `default` if it does not exist. Corruption raises ValueError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return default
    return loads(data)


def write_json_atomic(path: Path, value: Any, *, indent: bool = False) -> None:
    """Replace `path` with `value` so readers never see half a document."""
    data = _dumps_indented(value) if indent else dumps(value)
    write_bytes_atomic(path, data + b"\n")


def _dumps_indented(value: Any) -> bytes:
    try:
        nonfinite = has_nonfinite(value)
    except RecursionError:
        raise TypeError("value nested too deeply to store as JSON") from None
    if nonfinite:
        return dumps(value)
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS | orjson.OPT_INDENT_2)
    except orjson.JSONEncodeError as exc:
        # Lone surrogates: undecodable bytes of argv or a folder name (surrogateescape).
        try:
            return _dumps_std(value, indent=2)
        except (TypeError, ValueError):
            raise TypeError(str(exc)) from None


def write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{os.urandom(3).hex()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None


def iter_jsonl(path: Path, on_torn: Callable[[str], None] | None = None) -> Iterator[dict]:
    """Each JSON object of a JSONL file; a torn or corrupt line is skipped and reported once."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return
    bad = 0
    with fh:
        for raw in fh:
            if not raw.strip():
                continue
            try:
                row = loads(raw)
            except ValueError:
                bad += 1
                continue
            if isinstance(row, dict):
                yield row
    if bad and on_torn is not None:
        on_torn(f"{path}: skipped {bad} torn or corrupt line{'s' if bad > 1 else ''}")


def last_jsonl_row(path: Path, chunk: int = 65536) -> dict | None:
    """The last complete, readable object of a JSONL file, reading only as much of its tail
    as that takes: the tail doubles until it holds a whole row or is the whole file."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            while True:
                start = max(0, size - chunk)
                fh.seek(start)
                row = _last_row(fh.read(size - start), starts_a_line=start == 0)
                if row is not None or start == 0:
                    return row
                chunk *= 2
    except FileNotFoundError:
        return None


def _last_row(tail: bytes, *, starts_a_line: bool) -> dict | None:
    lines = tail.split(b"\n")
    if not starts_a_line:
        lines = lines[1:]  # the cut-off end of a longer line, not a row
    for raw in reversed(lines):
        if raw.strip():
            try:
                row = loads(raw)
            except ValueError:
                continue
            if isinstance(row, dict):
                return row
    return None


class AppendFile:
    """An O_APPEND file written one whole line per write call.

    If a write fails part-way (a full disk), the next line starts on a fresh line so the
    torn one never swallows it.

    With `cache_window` (bytes), a file that grows by many of them through `write_bytes`
    keeps a bounded footprint in the page cache: after each window appended the kernel is
    told to write back what is dirty and to drop what is already written back
    (POSIX_FADV_DONTNEED, Linux).  A program printing gigabytes then neither pushes the
    job's own data out of the cache nor takes a fresh page for every 4 kB of output (slow
    where a VM backs new pages lazily); the bytes on disk are the same.  The advice costs one
    system call a window (on older kernels also a drain of every CPU's page lists).  It is
    given only on a local disk's file system (one of a block device): on NFS, Lustre or FUSE
    the writeback it starts may wait on the network, stalling the program's output; tmpfs,
    overlay, btrfs and ZFS (no block device of their own) go without it too.  Where the
    advice is refused, it is no longer given.
    """

    def __init__(self, path: Path, *, cache_window: int = 0):
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        share_like_parent(path, self.fd)  # a resume by another user of a shared store appends
        self._needs_newline = _ends_without_newline(path)
        # the window in effect (0: no advice)
        self.window = cache_window if cache_window > 0 and _on_local_disk(self.fd) else 0
        self._since_advice = 0

    def write_line(self, line: bytes) -> int:
        """Returns the bytes appended (the line, its newline, and any newline put first)."""
        data = line + b"\n"
        if self._needs_newline:
            data = b"\n" + data
        try:
            written = os.write(self.fd, data)
            while written < len(data):
                self._needs_newline = True
                written += os.write(self.fd, data[written:])
        except OSError as exc:
            self._needs_newline = True
            raise StoreError(f"cannot write {self.path.name}: {exc.strerror or exc}") from None
        self._needs_newline = False
        return written

    def write_bytes(self, data: bytes) -> None:
        """Bytes as they are (whole lines, or a part of a long one): no newline added."""
        if self._needs_newline:
            data = b"\n" + data
        view = memoryview(data)
        try:
            while view:
                written = os.write(self.fd, view)
                view = view[written:]
                self._needs_newline = bool(view)
        except OSError as exc:
            self._needs_newline = True
            raise StoreError(f"cannot write {self.path.name}: {exc.strerror or exc}") from None
        if self.window:
            self._since_advice += len(data)
            if self._since_advice >= self.window:
                self._advise_drop()

    def _advise_drop(self) -> None:
        """Start writing back the dirty pages, drop the clean ones (the whole file: a walk
        over pages no longer cached costs next to nothing)."""
        self._since_advice = 0
        try:
            os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError:
            self.window = 0

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _on_local_disk(fd: int) -> bool:
    """Whether page-cache advice may be given for the open file: Linux's posix_fadvise, and
    a file system on a block device (a network, FUSE or memory file system has none: its
    device number's major is 0)."""
    if not hasattr(os, "posix_fadvise"):
        return False
    try:
        return os.major(os.fstat(fd).st_dev) != 0
    except OSError:
        return False


def _ends_without_newline(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() == 0:
                return False
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) != b"\n"
    except OSError:
        return False
