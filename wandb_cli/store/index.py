"""A cache of run records beside the run folders, so `runs ls` need not open every run.

Each line is `[folder, signature, entry]`; what an entry holds is the reader's business
(store.layout: a run's record fields); the header names its format and the entry's fields,
and an index written with other fields (an older or newer wbrun) is ignored and rebuilt.
The last line, the trailer, repeats the lines' folders and signatures as two arrays (read
with two parses instead of one head a line: 100,000 runs ~0.5 -> ~0.1 s here) and says
whether the index holds every run folder and the store folder's modification time then.

Invariant: the index is never trusted blindly.  Each entry carries the modification time
(ns) of its run's `files/` folder, which every document write changes (writes are renames
inside it).  An entry is used only if that signature still matches and the folder had last
changed at least RACY_NS before the index was built (so two changes within the
filesystem's timestamp granularity cannot hide behind one signature).  Folders missing from
the index are read; entries whose folder is gone are dropped; an unreadable index, or an
unreadable line of it, is ignored and rebuilt.  Crash judgement is never cached: it is
made afresh from the cached state record at every read.  The store folder is listed
again unless the index held every run folder and the store folder's modification time
(which every run folder created, removed or renamed changes) is still the one recorded,
recorded only when older than RACY_NS at the time.
"""
from __future__ import annotations

import functools
import operator
import os
import signal
import sys
import threading
import time
from array import array
from itertools import islice
from pathlib import Path
from typing import BinaryIO, Callable, Generator, Iterator, Sequence

import orjson

from wandb_cli.nogc import no_cycle_collection
from wandb_cli.store import jsonio

INDEX_NAME = "index.jsonl"
RACY_NS = 2_000_000_000
FORMAT = 3


def index_path(root: Path) -> Path:
    return root / ".wbrun" / INDEX_NAME


def header(schema: Sequence[str]) -> dict:
    return {"format": FORMAT, "fields": list(schema)}


# Formats whose lines this one reads (2: the same lines, without the trailer), so an
# upgrade does not read every run's documents again; the index is then rewritten as FORMAT.
READABLE_FORMATS = (2, FORMAT)


def header_matches(line: bytes, schema: Sequence[str]) -> bool:
    try:
        found = jsonio.loads(line)
    except ValueError:
        return False
    return type(found) is dict and found.get("format") in READABLE_FORMATS \
        and found == {**header(schema), "format": found["format"]}


def load(root: Path, schema: Sequence[str]) -> dict[str, tuple[int, list]]:
    """folder -> (signature, entry); whatever cannot be read is simply left out."""
    entries: dict[str, tuple[int, list]] = {}
    for name, (signature, line) in load_lines(root, schema)[0].items():
        entry = _parse(line, name, signature)
        if entry is not None:
            entries[name] = (signature, entry)
    return entries


def load_lines(root: Path, schema: Sequence[str]) -> tuple[dict[str, tuple[int, bytes]], dict]:
    """name -> (signature, the entry's whole line), and the trailer's store fields (empty
    when it has none).  A line is parsed in full only when its run is visited and still
    valid (the parsed documents of 100,000 runs held at once took ~350 MB; their lines take
    72 MB).  An index without its trailer (cut short, edited) is read by each line's head."""
    try:
        with open(index_path(root), "rb") as fh:
            if not header_matches(fh.readline(), schema):
                return {}, {}
            lines = fh.read().split(b"\n")
    except OSError:
        return {}, {}
    if lines and not lines[-1]:
        lines.pop()  # (the last newline)
    trailer = _trailer(lines[-1]) if lines else None
    if trailer is not None:
        lines.pop()
        names, sigs = trailer.pop("folders"), trailer.pop("signatures")
        if len(names) == len(sigs) == len(lines):
            return dict(zip(names, zip(sigs, lines))), trailer
    heads = map(_head, lines)
    return {head[0]: (head[1], line) for head, line in zip(heads, lines) if head is not None}, {}


def is_trailer(line: bytes) -> bool:
    return line.startswith(b'{"folders":')


def _trailer(line: bytes) -> dict | None:
    """The trailer's fields, or None for any other line or shape."""
    if not is_trailer(line):
        return None
    try:
        trailer = orjson.loads(line)
    except ValueError:
        return None
    names, sigs = trailer.get("folders"), trailer.get("signatures")
    if type(names) is not list or type(sigs) is not list:
        return None
    if not set(map(type, names)) <= {str} or not set(map(type, sigs)) <= {int}:
        return None
    return trailer


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


def _parse(line: bytes, name: str, signature: int) -> list | None:
    """The line's entry, if it is the one for `name` at `signature`."""
    try:  # orjson alone: a line holding what it cannot read exactly is never written (_encode)
        line_name, line_signature, entry = orjson.loads(line)
    except (ValueError, TypeError):
        return None
    if line_name != name or line_signature != signature:
        return None  # (the trailer and the line disagree: an edited index)
    return entry if type(entry) is list and len(entry) == 2 and type(entry[0]) is list else None


class _Writer:
    """A new index streamed to a temporary file as the scan goes (no 72 MB buffer), put in
    place by `commit()`; any failure (read-only store, full disk) just leaves the old one."""

    def __init__(self, root: Path, schema: Sequence[str]):
        self.names: list[str] = []
        self.sigs: list[int] = []
        self.path = index_path(root)
        self.tmp = self.path.with_name(f".{INDEX_NAME}.tmp-{os.getpid()}-{os.urandom(3).hex()}")
        self.fh: BinaryIO | None
        try:
            fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, jsonio.FILE_MODE)
            self.fh = open(fd, "wb", buffering=1 << 20)
            self.fh.write(jsonio.dumps(header(schema)) + b"\n")
        except OSError:
            self.fh = None

    def add(self, name: str, sig: int, line: bytes) -> None:
        if self.fh is not None:
            self.names.append(name)
            self.sigs.append(sig)
            try:
                self.fh.write(line + b"\n")
            except OSError:
                self.abort()

    def commit(self, store: dict) -> None:
        """Put the index in place, its trailer holding `store` (the store's fields)."""
        if self.fh is None:
            return
        try:
            self.fh.write(jsonio.dumps({"folders": self.names, "signatures": self.sigs, **store}))
            self.fh.write(b"\n")
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


# A store of at least this many runs is stat()ed by a forked child (below); under it, the
# fork costs more than it saves.
FORK_MIN = 4096
_NONE = -(2 ** 63)  # a signature that could not be read, as the child sends it
_CHUNK = 4096  # signatures a write of the child's, a read of the parent's


def _signatures(names: Sequence[str], base: str,
                dir_fd: int | None) -> Generator[int | None, None, None]:
    """Each name's signature, in order.  In a big store these stat() calls (~5 us each here,
    the kernel walking two names) are made by a forked child on another core while this
    process parses and uses the entries, the child a pipe's worth ahead: the same check,
    made concurrently (100,000 runs: ~0.55 s off a listing).  Threads cannot do this: a
    stat() gives the GIL up and must win it back for every call.  Only where the fork is
    safe and can help (`_may_fork`); if the child ends early, the rest are stat()ed here."""
    stat_one = functools.partial(_signature_at, base, dir_fd)
    if len(names) < FORK_MIN or not _may_fork():
        yield from map(stat_one, names)
        return
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: stat, send, and leave without running anything of the parent's
        try:
            os.close(read_end)
            _send_signatures(write_end, names, stat_one)
        finally:
            os._exit(0)
    os.close(write_end)
    done = 0
    try:
        with open(read_end, "rb", buffering=0) as pipe:
            while done < len(names):
                chunk = _read_full(pipe, 8 * min(_CHUNK, len(names) - done))
                sigs = array("q", chunk[:len(chunk) // 8 * 8])
                if not sigs:
                    break
                done += len(sigs)
                for sig in sigs:
                    yield None if sig == _NONE else sig
        yield from map(stat_one, names[done:])  # (the child ended early)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)  # (gone already, unless the caller stopped early)
            os.waitpid(pid, 0)
        except OSError:  # (ChildProcessError: reaped by a SIGCHLD handler of the caller's)
            pass


def _send_signatures(fd: int, names: Sequence[str], stat_one: Callable[[str], int | None]) -> None:
    for start in range(0, len(names), _CHUNK):
        sigs = array("q", [_NONE if sig is None else sig
                           for sig in map(stat_one, names[start:start + _CHUNK])])
        view = memoryview(sigs.tobytes())
        while view:
            view = view[os.write(fd, view):]


def _read_full(pipe: BinaryIO, size: int) -> bytes:
    """`size` bytes, or fewer only at the end of the pipe."""
    parts, got = [], 0
    while got < size:
        part = pipe.read(size - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _may_fork() -> bool:
    """Linux only (measured there; macOS warns against a fork without exec), one thread (a
    thread could hold a lock the child would need), and more than one usable core."""
    if not sys.platform.startswith("linux") or threading.active_count() != 1:
        return False
    return len(os.sched_getaffinity(0)) > 1


def _signature_at(base: str, dir_fd: int | None, name: str) -> int | None:
    return signature(name if dir_fd is not None else base + name, dir_fd)


def _start_writer(root: Path, schema: Sequence[str],
                  kept: list[tuple[str, int, bytes]] | None) -> _Writer:
    """A new index, holding first the valid lines met before anything differed."""
    writer = _Writer(root, schema)
    assert kept is not None  # None only once a writer exists
    for name, sig, line in kept:
        writer.add(name, sig, line)
    return writer


def _mtime(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
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
    store_mtime = _mtime(root)  # (before the folder is listed: a change after it shows)
    cached, recorded = load_lines(root, schema)
    if recorded.get("complete") is True and store_mtime is not None \
            and recorded.get("store_mtime_ns") == store_mtime:
        folders = set(cached)  # no run folder created, removed or renamed since the index
    else:
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
    kept: list[tuple[str, int, bytes]] | None = []  # valid lines met before the first change
    writer: _Writer | None = None
    written = 0
    dir_fd = _open_dir(root)
    base = os.path.join(root, "")
    signatures = _signatures(order, base, dir_fd)
    try:
        for name, sig in zip(order, signatures):
            path = base + name
            hit = cached.get(name)
            parsed = _parse(hit[1], name, sig) if sig is not None and hit is not None \
                and hit[0] == sig else None
            line = hit[1] if parsed is not None and hit is not None else None
            if parsed is None:
                parsed = read_entry(Path(path))
            cacheable = sig is not None and started - sig > RACY_NS
            if writer is None and (reorder or (line is None and (cacheable or hit is not None))):
                writer = _start_writer(root, schema, kept)  # something differs: a new index
                kept = None
            if cacheable and sig is not None:
                line = line or _encode(name, sig, parsed)
                if line is not None:
                    written += 1
                    if writer is not None:
                        writer.add(name, sig, line)
                    else:
                        assert kept is not None  # None only once a writer exists
                        kept.append((name, sig, line))
            yield path, parsed  # a str: building 100,000 Path objects cost ~0.2 s
        store = {"complete": written == len(order),
                 "store_mtime_ns": store_mtime if store_mtime is not None
                 and started - store_mtime > RACY_NS else None}
        if writer is None and (written != len(cached) or store != recorded):
            writer = _start_writer(root, schema, kept)  # only removals, or the store's fields
        if writer is not None:
            writer.commit(store)
            writer = None
    finally:
        signatures.close()
        if writer is not None:  # the caller stopped early: keep the old index
            writer.abort()
        if dir_fd is not None:
            os.close(dir_fd)
