"""A cache of run records beside the run folders, so `runs ls` need not open every run.

Each line is `[folder, signature, entry]`; what an entry holds is the reader's business
(store.layout: a run's record fields); the header names its format and the entry's fields,
and an index written with other fields (an older or newer wbrun) is ignored and rebuilt.
The last line, the trailer, repeats the lines' folders and signatures as two arrays (read
with two parses instead of one head a line: 100,000 runs ~0.5 -> ~0.3 s here), names the
run folders the listing saw but did not cache, and identifies the store folder as it was
(inode, status change time).  A reader that predates the trailer skips it (its head is not
a run's), so the format did not change.

Invariant: the index is never trusted blindly.  Each entry carries the modification time
(ns) of its run's `files/` folder, which every document write changes (writes are renames
inside it).  An entry is used only if that signature still matches and the folder had last
changed at least RACY_NS before the index was built (so two changes within the
filesystem's timestamp granularity cannot hide behind one signature).  Folders missing from
the index are read; entries whose folder is gone are dropped; an unreadable index, or an
unreadable line of it, is ignored and rebuilt.  Crash judgement is never cached: it is
made afresh from the cached state record at every read.  The store folder is listed
again unless it is the one the trailer identifies, unchanged: its inode status change time
moves with every entry created, removed or renamed in it and cannot be set back (a copy
that restores the modification time, `cp -a` or `rsync -a`, still changes it), and is
recorded only when older than RACY_NS at the time.  The folders are then the trailer's
(cached and uncached); one that has gone is left out and the store listed next time.
"""
from __future__ import annotations

import functools
import operator
import os
import time
from itertools import islice
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Sequence

import orjson

from wandb_cli.nogc import no_cycle_collection
from wandb_cli.store import jsonio, statchild

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
    for name, (signature, line) in load_lines(root, schema)[0].items():
        entry = _parse(line, name, signature)
        if entry is not None:
            entries[name] = (signature, entry)
    return entries


def load_lines(root: Path, schema: Sequence[str]) -> tuple[dict[str, tuple[int, bytes]], dict]:
    """name -> (signature, the entry's whole line), and the trailer's other fields (empty
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
    """The trailer's fields, or None for any other line or shape (a name that is not a run
    folder's plain name among them)."""
    if not is_trailer(line):
        return None
    try:
        trailer = orjson.loads(line)
    except ValueError:
        return None
    if type(trailer) is not dict:
        return None
    names, sigs, uncached = (trailer.get(key) for key in ("folders", "signatures", "uncached"))
    if type(names) is not list or type(sigs) is not list or type(uncached) is not list:
        return None
    if not set(map(type, sigs)) <= {int} or not _folder_names(names + uncached):
        return None
    return trailer


def _folder_names(names: list) -> bool:
    """Each a str naming a run folder inside the store: `run-...`, no separator, no NUL."""
    if not set(map(type, names)) <= {str} or not all(map(operator.methodcaller("startswith", "run-"), names)):
        return False
    joined = "".join(names)
    return os.sep not in joined and (os.altsep or os.sep) not in joined and "\0" not in joined


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

    def commit(self, fields: dict) -> None:
        """Put the index in place, its trailer holding `fields` too."""
        if self.fh is None:
            return
        try:
            self.fh.write(jsonio.dumps({"folders": self.names, "signatures": self.sigs, **fields}))
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


# A store of at least this many runs is stat()ed by a forked child (store/statchild.py);
# under it, the fork costs more than it saves.
FORK_MIN = 4096


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


def _identity(root: Path, dir_fd: int | None) -> list[int] | None:
    """[inode, status change time (ns)] of the store folder, from the descriptor opened on
    it where there is one (an open revalidates a folder's attributes on NFS, a bare stat()
    may answer from a cache).  Not the device: NFS clients number it each their own way, and
    hosts sharing a store would each find the other's trailer foreign."""
    try:
        st = os.fstat(dir_fd) if dir_fd is not None else os.stat(root)
    except OSError:
        return None
    return [st.st_ino, st.st_ctime_ns]


def _utf8(name: str) -> bool:
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


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
    dir_fd = _open_dir(root)
    try:
        yield from _scan_store(root, dir_fd, started, read_entry, schema)
    finally:
        if dir_fd is not None:
            os.close(dir_fd)


def _scan_store(root: Path, dir_fd: int | None, started: int, read_entry: Callable[[Path], list],
                schema: Sequence[str]) -> Iterator[tuple[str, list]]:
    identity = _identity(root, dir_fd)  # (before the folder is listed: a change after it shows)
    cached, recorded = load_lines(root, schema)
    trusted = identity is not None and recorded.get("store") == identity
    if trusted:  # no entry created, removed or renamed in the store folder since the index
        folders = set(cached).union(recorded["uncached"])
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
    uncached: list[str] = []
    written = 0
    vanished = False
    writer: _Writer | None = None
    base = os.path.join(root, "")
    stat_one = functools.partial(_signature_at, base, dir_fd)
    signatures = statchild.stat_all(order, stat_one, keep_fd=dir_fd,
                                    forked=len(order) >= FORK_MIN and statchild.may_fork())
    try:
        for name, sig in zip(order, signatures):
            path = base + name
            if sig is None and trusted and not os.path.isdir(path):
                vanished = True  # (gone with the store folder's time unchanged: list it next time)
                continue
            hit = cached.get(name)
            parsed = _parse(hit[1], name, sig) if sig is not None and hit is not None \
                and hit[0] == sig else None
            line = hit[1] if parsed is not None and hit is not None else None
            if parsed is None:
                parsed = read_entry(Path(path))
            cacheable = sig is not None and started - sig > RACY_NS
            line = (line or _encode(name, sig, parsed)) if cacheable and sig is not None else None
            # a line added, changed or dropped (a run that cannot be cached changes nothing)
            if writer is None and (reorder or line is not (hit[1] if hit is not None else None)):
                writer = _start_writer(root, schema, kept)  # something differs: a new index
                kept = None
            if line is None or sig is None:
                uncached.append(name)
            else:
                written += 1
                if writer is not None:
                    writer.add(name, sig, line)
                else:
                    assert kept is not None  # None only once a writer exists
                    kept.append((name, sig, line))
            yield path, parsed  # a str: building 100,000 Path objects cost ~0.2 s
        # (a name JSON cannot hold, not UTF-8, is left out: the store is then listed each time)
        named = [name for name in uncached if _utf8(name)]
        settled = identity is not None and not vanished and len(named) == len(uncached) \
            and started - identity[-1] > RACY_NS
        fields = {"uncached": named, "store": identity if settled else None}
        if writer is None and (written != len(cached) or fields != recorded):
            writer = _start_writer(root, schema, kept)  # only removals, or the other fields
        if writer is not None:
            writer.commit(fields)
            writer = None
    finally:
        signatures.close()
        if writer is not None:  # the caller stopped early: keep the old index
            writer.abort()
