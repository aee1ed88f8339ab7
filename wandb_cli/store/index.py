"""A cache of run records beside the run folders, so `runs ls` need not open every run.

Each line is `[folder, signature, entry]`; what an entry holds is the reader's business
(store.layout: a run's record fields); the header names its format and the entry's fields,
and an index written with other fields (an older or newer wbrun) is ignored and rebuilt.

Invariant: the index is never trusted blindly.  Each entry carries the modification time
(ns) of its run's `files/` folder, which every document write changes (writes are renames
inside it).  An entry is used only if that signature still matches and the folder had last
changed at least RACY_NS before the index was built (so two changes within the
filesystem's timestamp granularity cannot hide behind one signature).  Folders missing from
the index are read; entries whose folder is gone are dropped; an unreadable index, or an
unreadable line of it, is ignored and rebuilt.  Crash judgement is never cached: it is
made afresh from the cached state record at every read.
"""
from __future__ import annotations

import operator
import os
import time
from itertools import islice
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Sequence

import orjson

from wandb_cli.nogc import no_cycle_collection
from wandb_cli.store import jsonio

INDEX_NAME = "index.jsonl"
RACY_NS = 2_000_000_000
FORMAT = 2


def index_path(root: Path) -> Path:
    return root / ".wbrun" / INDEX_NAME


def header(schema: Sequence[str]) -> dict:
    return {"format": FORMAT, "fields": list(schema)}


def header_matches(line: bytes, schema: Sequence[str]) -> bool:
    try:
        return jsonio.loads(line) == header(schema)
    except ValueError:
        return False


def load(root: Path, schema: Sequence[str]) -> dict[str, tuple[int, list]]:
    """folder -> (signature, entry); whatever cannot be read is simply left out."""
    entries: dict[str, tuple[int, list]] = {}
    for name, (signature, line) in load_lines(root, schema).items():
        entry = _parse(line)
        if entry is not None:
            entries[name] = (signature, entry)
    return entries


def load_lines(root: Path, schema: Sequence[str]) -> dict[str, tuple[int, bytes]]:
    """name -> (signature, the entry's whole line), parsing only each line's head: a line is
    parsed in full only when its run is visited and still valid (the parsed documents of
    100,000 runs held at once took ~350 MB; their lines take 72 MB)."""
    entries: dict[str, tuple[int, bytes]] = {}
    try:
        fh = open(index_path(root), "rb")
    except OSError:
        return entries
    with fh:
        if not header_matches(fh.readline(), schema):
            return entries
        for line in fh:
            head = _head(line)
            if head is not None:
                entries[head[0]] = (head[1], line.rstrip(b"\n"))
    return entries


def _head(line: bytes) -> tuple[str, int] | None:
    """(folder, signature) from `["run-...",123,...`; None for any other shape."""
    end = line.find(b'"', 2)
    comma = line.find(b",", end + 2)
    if not line.startswith(b'["run-') or end < 0 or comma < 0 or b"\\" in line[2:end]:
        return None
    try:
        return line[2:end].decode(), int(line[end + 2:comma])
    except (ValueError, UnicodeDecodeError):
        return None


def _parse(line: bytes) -> list | None:
    try:  # orjson alone: a line holding what it cannot read exactly is never written (_encode)
        _name, _signature, entry = orjson.loads(line)
    except (ValueError, TypeError):
        return None
    return entry if type(entry) is list and len(entry) == 2 and type(entry[0]) is list else None


class _Writer:
    """A new index streamed to a temporary file as the scan goes (no 72 MB buffer), put in
    place by `commit()`; any failure (read-only store, full disk) just leaves the old one."""

    def __init__(self, root: Path, schema: Sequence[str]):
        self.path = index_path(root)
        self.tmp = self.path.with_name(f".{INDEX_NAME}.tmp-{os.getpid()}-{os.urandom(3).hex()}")
        self.fh: BinaryIO | None
        try:
            fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, jsonio.FILE_MODE)
            self.fh = open(fd, "wb", buffering=1 << 20)
            self.fh.write(jsonio.dumps(header(schema)) + b"\n")
        except OSError:
            self.fh = None

    def add(self, line: bytes) -> None:
        if self.fh is not None:
            try:
                self.fh.write(line + b"\n")
            except OSError:
                self.abort()

    def commit(self) -> None:
        if self.fh is None:
            return
        try:
            self.fh.close()
            os.replace(self.tmp, self.path)
        except OSError:
            self.abort()
        self.fh = None

    def abort(self) -> None:
        try:
            if self.fh is not None:
                self.fh.close()
        except OSError:
            pass
        self.fh = None
        try:
            os.unlink(self.tmp)
        except OSError:
            pass


def _encode(name: str, signature: int, entry: list) -> bytes | None:
    """The entry's line, or None (not cached) where orjson could not read it back exactly:
    NaN/Infinity tokens, an integer beyond 64 bits (read as a float, silently)."""
    try:
        line = jsonio.dumps([name, signature, entry])
    except TypeError:
        return None
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return None if jsonio.has_long_digits(line) else line


def signature(folder: str, dir_fd: int | None) -> int | None:
    """The modification time (ns) of `folder/files`, `folder` relative to `dir_fd` (the
    store's; the kernel then walks two names, not the whole path: 100,000 runs 0.75 ->
    0.55 s here) or else a whole path; None where it cannot be read."""
    try:
        return os.stat(folder + "/files", dir_fd=dir_fd).st_mtime_ns
    except OSError:
        return None


def _open_dir(root: Path) -> int | None:
    """A descriptor of the store for relative stat()s, where the platform takes one."""
    if os.stat not in os.supports_dir_fd:
        return None
    try:
        return os.open(root, os.O_RDONLY)
    except OSError:
        return None


def scan(root: Path, read_entry: Callable[[Path], list],
         schema: Sequence[str]) -> Iterator[tuple[str, list]]:
    """(run folder, its entry) for every run folder, from the index where it is valid.

    `read_entry(run_dir)` reads one run's entry afresh; `schema` names what an entry holds.  The index is rewritten when
    anything differed from it.  The cyclic garbage collector is paused until the caller
    has taken the last folder (or dropped the iterator): the parsed documents hold no
    cycles, and its repeated passes over them cost more than parsing them (100,000 runs:
    a whole `runs ls` took 5.8 s with it, 4.1 s without).
    """
    with no_cycle_collection():
        yield from _scan(root, read_entry, schema)


def _scan(root: Path, read_entry: Callable[[Path], list],
          schema: Sequence[str]) -> Iterator[tuple[str, list]]:
    started = time.time_ns()
    cached = load_lines(root, schema)
    try:
        folders = {entry.name for entry in os.scandir(root)
                   if entry.name.startswith("run-") and entry.is_dir(follow_symlinks=False)}
    except FileNotFoundError:
        return
    # Runs in the order of their folders' names, newest first (a name starts with the run's
    # start): a listing's records are built, and lie in memory, in about the order it shows
    # them, so every later pass over them reads memory in order (100,000 runs: sorting them
    # and reading `--group-by`'s columns 2.6 -> 1.1 s in-process); and runs a sort leaves
    # tied keep one order whichever of them the index holds.  The index is kept in that
    # order, so the sort finds it done in one pass (an unsorted 100,000 took ~0.4 s here);
    # an index in any other order is rewritten.
    known = list(cached) if folders.issuperset(cached) else [n for n in cached if n in folders]
    reorder = not all(map(operator.gt, known, islice(known, 1, None)))
    order = known + list(folders.difference(cached))
    order.sort(reverse=True)
    kept: list[bytes] | None = []  # valid lines met before the first change
    writer: _Writer | None = None
    written = 0
    dir_fd = _open_dir(root)
    base = os.path.join(root, "")
    try:
        for name in order:
            path = base + name
            sig = signature(name if dir_fd is not None else path, dir_fd)
            hit = cached.get(name)
            parsed = _parse(hit[1]) if sig is not None and hit is not None and hit[0] == sig else None
            line = hit[1] if parsed is not None and hit is not None else None
            if parsed is None:
                parsed = read_entry(Path(path))
            cacheable = sig is not None and started - sig > RACY_NS
            if writer is None and (reorder or (line is None and (cacheable or hit is not None))):
                writer = _Writer(root, schema)  # something differs from the index: write a new one
                assert kept is not None  # None only once a writer exists
                for old in kept:
                    writer.add(old)
                kept = None
            if cacheable and sig is not None:
                line = line or _encode(name, sig, parsed)
                if line is not None:
                    written += 1
                    if writer is not None:
                        writer.add(line)
                    else:
                        assert kept is not None  # None only once a writer exists
                        kept.append(line)
            yield path, parsed  # a str: building 100,000 Path objects cost ~0.2 s
        if writer is None and written != len(cached):  # only removals: rewrite without them
            writer = _Writer(root, schema)
            assert kept is not None  # None only once a writer exists
            for old in kept:
                writer.add(old)
        if writer is not None:
            writer.commit()
            writer = None
    finally:
        if writer is not None:  # the caller stopped early: keep the old index
            writer.abort()
        if dir_fd is not None:
            os.close(dir_fd)
