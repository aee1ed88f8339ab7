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

Beside it, the columns file holds the same entries a field at a time, and a digest of the
trailer it was written with: where that digest is this index's, a listing builds every
cached entry's item at once from the columns (the reader's `build`), reads none of the
lines, and still checks each signature.  A column of few texts is kept coded, and the
fields the reader names `deferred` are kept as text, checked by a digest and parsed only when
an item is first asked for one.  A columns file of another index, or one that cannot be
read whole, is ignored, and both files are written again.  A third file, the rows
file (store/rowtext.py), holds each cached run's JSON text for `--format json`, tied to the
index the same way and written with it where its texts can be copied from the old one; where
none belongs, a JSON listing writes it (alone, where nothing else of the index changed).

This module is the scan; the files are read by store/indexread.py and written again by
store/indexwrite.py (their names are imported here for callers).
"""
from __future__ import annotations

import functools
import operator
import os
import time
from itertools import compress, islice, repeat
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, NamedTuple, Sequence

from wandb_cli.nogc import no_cycle_collection
from wandb_cli.store import rowtext, statchild
from wandb_cli.store.indexread import (  # noqa: F401 (the index's names and readers, as callers know them)
    _encode,
    _parse,
    _Read,
    _read,
    column_values,
    columns_path,
    header,
    header_matches,
    index_path,
    is_trailer,
    load,
    rows_path,
)
from wandb_cli.store.indexwrite import TextSpec, _start_writer, _write_rows_alone, _Writer

RACY_NS = 2_000_000_000


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


# What a scan makes of one entry (judged), given its run folder's path; of many at once (not
# judged), given their fields as columns (as the columns file keeps them), their paths and
# the rows file where the caller wants it and it belongs (row i of it is item i's); and how
# an item built from the columns is judged by its run document.
Make = Callable[[list, str], Any]
Build = Callable[[Sequence[Any], list[str], "rowtext.Texts | None"], list]
Judge = Callable[[Any, dict], None]


class Makers(NamedTuple):
    make: Make
    build: Build
    judge: Judge
    texts: TextSpec
    deferred: frozenset[str]  # fields whose columns the columns file keeps as text (indexread.Deferred)


def scan(root: Path, read_entry: Callable[[Path], list], schema: Sequence[str], *,
         make: Make, build: Build, judge: Judge, texts: TextSpec,
         deferred: frozenset[str] = frozenset()) -> Iterator[Any]:
    """`make(entry, run folder)` for every run folder, from the index where it is valid.

    `read_entry(run_dir)` reads one run's entry afresh; `schema` names what an entry holds;
    where the columns file holds the index's entries, `build` makes all their items at once
    (the items `make` would, before judging; a field named in `deferred` is given as an
    indexread.Deferred column, parsed when first asked for) and `judge` settles those still
    running, once their entries are known to be valid.  The index is rewritten when anything
    differed from it, before the first item is given: nothing a caller does to an item can reach
    the files.  The cyclic garbage collector is paused until the caller has taken the last
    item (or dropped the iterator): the parsed documents hold no cycles, and its repeated
    passes over them cost more than parsing them (100,000 runs: a whole `runs ls` took
    5.8 s with it, 4.1 s without).
    """
    with no_cycle_collection():
        yield from _scan(root, read_entry, schema, Makers(make, build, judge, texts, deferred))


def _scan(root: Path, read_entry: Callable[[Path], list], schema: Sequence[str],
          makers: Makers) -> Iterator[Any]:
    started = time.time_ns()
    dir_fd = _open_dir(root)
    fh: BinaryIO | None = None
    try:
        identity = _identity(root, dir_fd)  # (before the folder is listed: a change after it shows)
        try:
            fh = open(index_path(root), "rb")
            read = _read(root, schema, fh)
        except OSError:
            read = _Read()
        items = _scan_store(root, dir_fd, identity, started, read_entry, schema, read, makers)
    finally:
        if fh is not None:
            fh.close()
        if dir_fd is not None:
            os.close(dir_fd)
    yield from items


def _scan_store(root: Path, dir_fd: int | None, identity: list[int] | None, started: int,
                read_entry: Callable[[Path], list], schema: Sequence[str], read: _Read,
                makers: Makers) -> list:
    make, build, judge, texts, deferred = makers
    recorded = read.recorded
    trusted = identity is not None and recorded.get("store") == identity
    # Runs in the order of their folders' names, newest first (a name starts with the run's
    # start): a listing's records are built, and lie in memory, in about the order it shows
    # them, so every later pass over them reads memory in order (100,000 runs: sorting them
    # and reading `--group-by`'s columns 2.6 -> 1.1 s in-process); and runs a sort leaves
    # tied keep one order whichever of them the index holds.  The index is kept in that
    # order, so the sort finds it done in one pass (an unsorted 100,000 took ~0.4 s here);
    # an index in any other order is rewritten.
    if trusted and read.expected is not None and not recorded["uncached"] \
            and _descending(read.names):
        # the folders are the trailer's, in order, each once: no set or map of them is made
        # unless something differs (100,000 runs ~0.04 s)
        order, reorder = read.names, False
    else:
        found = _order(root, read.cached, recorded, trusted=trusted)
        if found is None:  # (the store folder is gone)
            return []
        order, reorder = found
    base = os.path.join(root, "")
    stat_one = functools.partial(_signature_at, base, dir_fd)
    signatures = statchild.stat_all(order, stat_one, keep_fd=dir_fd,
                                    forked=len(order) >= FORK_MIN and statchild.may_fork())
    writer: _Writer | None = None
    try:
        items: list | None = None
        runs: list = []
        if read.expected is not None:
            # the child (if any) starts on the first result, and stats while the columns are
            # parsed and the items built
            sigs = list(islice(signatures, 1))
            if not read.load_columns(root, schema):  # (replaced or damaged since its first line)
                signatures.close()
                return _scan_store(root, dir_fd, identity, started, read_entry, schema,
                                   read.without_columns(root, schema), makers)
            assert read.columns is not None
            wanted = read.load_texts(root, schema, texts.fingerprint) if texts.wanted else None
            items = build(read.columns[:-1], list(map(base.__add__, read.names)), wanted)
            runs = column_values(read.columns[-1])  # (never deferred)
            sigs += signatures
            if order == read.names and sigs == read.sigs \
                    and _fields(identity, started, [], vanished=False) == recorded:
                # every entry valid, none missing, nothing to write: no run looked at alone
                present = map(operator.is_not, runs, repeat(None))
                for item, run in zip(compress(items, present), filter(_PRESENT, runs)):
                    judge(item, run)
                if texts.wanted and wanted is None:
                    _write_rows_alone(root, schema, read, texts)
                return items
            results: Iterator[int | None] = iter(sigs)
        else:
            results = signatures
        cached = read.cached
        kept: list | None = []  # valid lines met before the first change: (name, sig, line, row)
        uncached: list[str] = []
        if items is None:  # no columns file for this index: it is written again, with one
            writer = _start_writer(root, schema, read, kept, uncached, texts, deferred)
            kept = None
        written = 0
        vanished = False
        out = []
        for name, sig in zip(order, results):
            path = base + name
            if sig is None and trusted and not os.path.isdir(path):
                vanished = True  # (gone with the store folder's time unchanged: list it next time)
                continue
            hit = cached.get(name)
            old = hit[1] if sig is not None and hit is not None and hit[0] == sig else None
            line: bytes | None = None
            if old is not None and items is not None:
                valid, row, item = True, old, items[old]  # (its line is read if the index is rewritten)
                if runs[old] is not None:
                    judge(item, runs[old])
            else:
                row = _parse(old, name, sig) if old is not None and sig is not None else None
                valid = row is not None
                if valid:
                    line = old
                else:
                    row = read_entry(Path(path))
                    if sig is not None and started - sig > RACY_NS:
                        line = _encode(name, sig, row)
                item = make(row, path)  # a str: building 100,000 Path objects cost ~0.2 s
            # a line added, changed or dropped (a run that cannot be cached changes nothing)
            if writer is None and (reorder or not valid and (line is not None or hit is not None)):
                writer = _start_writer(root, schema, read, kept, uncached, texts, deferred)  # something differs
                kept = None
            if sig is None or not valid and line is None:
                uncached.append(name)
            elif writer is None:
                assert kept is not None  # None only once a writer exists
                kept.append((name, sig, line, row))
                written += 1
            elif writer.add(name, sig, line, row):
                written += 1
            else:
                uncached.append(name)
            out.append(item)
        fields = _fields(identity, started, uncached, vanished=vanished)
        if writer is None and (written != len(cached) or fields != recorded):
            # (only removals, or the other fields)
            writer = _start_writer(root, schema, read, kept, uncached, texts, deferred)
            fields = _fields(identity, started, uncached, vanished=vanished)
        if writer is not None:
            writer.commit(fields)
            writer = None
        elif texts.wanted and items is not None and read.texts is None:
            _write_rows_alone(root, schema, read, texts)
        return out
    finally:
        signatures.close()
        if writer is not None:  # (an error: keep the old index)
            writer.abort()


_PRESENT = functools.partial(operator.is_not, None)


def _descending(names: list[str]) -> bool:
    return all(map(operator.gt, names, islice(names, 1, None)))


def _order(root: Path, cached: dict, recorded: dict, *,
           trusted: bool) -> tuple[list[str], bool] | None:
    """(the run folders, newest first; whether the index holds its folders in another
    order), the folders being the trailer's where the store folder is unchanged (`trusted`),
    else those found there (None: there is no store folder)."""
    if trusted:  # no entry created, removed or renamed in the store folder since the index
        folders = set(cached).union(recorded["uncached"])
    else:
        try:
            folders = {entry.name for entry in os.scandir(root)
                       if entry.name.startswith("run-") and entry.is_dir(follow_symlinks=False)}
        except FileNotFoundError:
            return None
    known = list(cached) if folders.issuperset(cached) else [n for n in cached if n in folders]
    reorder = not _descending(known)
    order = known + list(folders.difference(cached))
    order.sort(reverse=True)
    return order, reorder


def _fields(identity: list[int] | None, started: int, uncached: list[str], *, vanished: bool) -> dict:
    """The trailer's other fields: the folders not cached, and the store folder's identity
    once it has settled (and nothing is left out of the two lists)."""
    # (a name JSON cannot hold, not UTF-8, is left out: the store is then listed each time)
    named = [name for name in uncached if _utf8(name)]
    settled = identity is not None and not vanished and len(named) == len(uncached) \
        and started - identity[-1] > RACY_NS
    return {"uncached": named, "store": identity if settled else None}
