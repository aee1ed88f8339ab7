"""The run index: used when valid, never trusted blindly, rebuilt by itself."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import record_run

from wandb_cli.store import index, indexread, jsonio, layout
from wandb_cli.store.layout import RECORD_FIELDS, RunPaths, Store, update_run_doc
from wandb_cli.store.model import RunRecord
from wandb_cli.store.recorder import RunSpec, start_run


def make_runs(store: Store, count: int, *, age_s: float = 3600) -> list[str]:
    """Finished runs whose files/ folders look `age_s` old (outside the racy window)."""
    ids = [record_run(store, project="p", config={"i": i}, metrics=[{"val_loss": i / 10}])
           for i in range(count)]
    age(store, age_s)
    return ids


def age(store: Store, seconds: float) -> None:
    old = time.time() - seconds
    for run_dir in store.run_dirs():
        os.utime(run_dir / "files", (old, old))


def listed(store: Store) -> dict[str, dict]:
    return {r.id: r for r in Store(store.root).iter_runs()}


def _as_dicts(store: Store, *, use_index: bool = True) -> dict[str, dict]:
    return {r.id: r.to_dict() for r in Store(store.root).iter_runs(use_index=use_index)}


def _tag(store: Store, run_id: str, tag: str) -> None:
    """Tag a run with the CLI, then make its change look old (no other run's time moves, so
    only this one differs from the index)."""
    subprocess.run([sys.executable, "-m", "wandb_cli", "runs", "tag", run_id, tag,
                    "--dir", str(store.root)], check=True, capture_output=True)
    old = time.time() - 1800
    os.utime(os.path.join(store.find(run_id).dir, "files"), (old, old))


def _documents_read(monkeypatch) -> list:
    """The run folders whose documents are read from now on (none, where the index holds them)."""
    reads: list = []
    real = layout.read_raw
    monkeypatch.setattr(layout, "read_raw", lambda d: reads.append(d) or real(d))
    return reads


def _no_line_parsed(monkeypatch) -> list:
    """Count the index lines parsed one by one (none, where the columns file is used)."""
    parsed = []
    real = index._parse
    monkeypatch.setattr(index, "_parse", lambda *a: parsed.append(a[1]) or real(*a))
    return parsed


def _written(store: Store) -> tuple[int, int]:
    """When and as what the index was last written (a rewrite may reuse a freed inode)."""
    st = os.stat(index.index_path(store.root))
    return st.st_ino, st.st_mtime_ns


def index_lines(store: Store) -> tuple[bytes, list[bytes], dict]:
    """The index's header, its entry lines and its trailer."""
    header, *lines, trailer = index.index_path(store.root).read_bytes().splitlines()
    return header, lines, jsonio.loads(trailer)


@pytest.fixture
def store(store_dir) -> Store:
    return Store(store_dir)


def test_first_listing_builds_the_index_and_the_second_uses_it(store, monkeypatch):
    ids = make_runs(store, 5)
    assert set(listed(store)) == set(ids)
    assert index.index_path(store.root).exists()
    reads = _documents_read(monkeypatch)
    assert set(listed(store)) == set(ids)
    assert reads == []  # every record came from the index


def test_a_run_written_by_another_process_shows_up_at_once(store):
    make_runs(store, 3)
    listed(store)
    subprocess.run([sys.executable, "-c", "import wandb_cli as w; r = w.init(id='newrun1'); "
                    "r.log({'val_loss': 0.5}); r.finish()"], check=True,
                   env={**os.environ, "WBRUN_DIR": str(store.root)})
    runs = listed(store)
    assert "newrun1" in runs and runs["newrun1"].summary == {"val_loss": 0.5}


def test_a_changed_run_is_read_again(store):
    ids = make_runs(store, 3)
    listed(store)
    target = store.find(ids[1])
    script = ("import sys; from wandb_cli.store.layout import RunPaths, update_run_doc, merge_json_doc; "
              "p = RunPaths(__import__('pathlib').Path(sys.argv[1])); "
              "update_run_doc(p, lambda d: d.__setitem__('tags', ['changed'])); "
              "merge_json_doc(p, 'wandb-summary.json', {'val_loss': 42})")
    subprocess.run([sys.executable, "-c", script, target.dir], check=True)
    runs = listed(store)
    assert runs[ids[1]].tags == ["changed"] and runs[ids[1]].summary["val_loss"] == 42
    assert runs[ids[0]].tags == []


def test_a_deleted_run_disappears(store):
    ids = make_runs(store, 3)
    listed(store)
    shutil.rmtree(store.find(ids[0]).dir)
    assert set(listed(store)) == set(ids[1:])


def test_a_corrupt_or_missing_index_is_rebuilt(store):
    ids = make_runs(store, 4)
    listed(store)
    path = index.index_path(store.root)
    path.write_bytes(b"\x00garbage{{{\n[1,2\n")
    assert set(listed(store)) == set(ids)
    assert jsonio.loads(path.read_bytes().splitlines()[0]) == index.header(RECORD_FIELDS)
    path.unlink()
    assert set(listed(store)) == set(ids)
    assert path.exists()


@pytest.mark.parametrize("trailer", ["kept", "forged too", "dropped"])
def test_a_stale_entry_with_a_wrong_signature_is_not_used(store, trailer):
    """A line whose signature is not its folder's is read again, whether the trailer
    agrees with the line, still holds the right signature, or is gone."""
    make_runs(store, 2)
    listed(store)
    path = index.index_path(store.root)
    header, lines, tail = index_lines(store)
    forged = []
    for line in lines:
        name, sig, entry = jsonio.loads(line)
        entry[0][RECORD_FIELDS.index("name")] = "forged"
        forged.append(jsonio.dumps([name, sig - 1, entry]))
    if trailer == "forged too":
        tail["signatures"] = [sig - 1 for sig in tail["signatures"]]
    ends = [] if trailer == "dropped" else [jsonio.dumps(tail)]
    path.write_bytes(b"\n".join([header, *forged, *ends]) + b"\n")
    assert all(r.name != "forged" for r in listed(store).values())
    assert len(listed(store)) == 2


def test_recent_changes_are_never_cached(store):
    make_runs(store, 2, age_s=0)  # folders changed just now: inside the racy window
    assert len(listed(store)) == 2
    path = index.index_path(store.root)
    assert not path.exists() or index_lines(store)[1] == []  # no entry cached
    age(store, 3600)  # once the folders are old enough, the next listing caches them
    assert len(listed(store)) == 2
    assert len(index_lines(store)[1]) == 2


def test_crash_judgement_is_not_cached(store):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = start_run(store, RunSpec(id="alive1"), pid=child.pid, recorder="test")
        age(store, 3600)
        assert listed(store)["alive1"].state == "running"
    finally:
        child.kill()
        child.wait()
    live.release_alive()  # this process holds the run's alive lock: as if it died too
    assert index.columns_path(store.root).exists()  # (the record comes from the columns)
    assert listed(store)[live.id].state == "crashed"


def test_iter_runs_without_index_gives_the_same_records(store):
    make_runs(store, 3)
    with_index = sorted((r.id, r.name, r.state) for r in store.iter_runs())
    without = sorted((r.id, r.name, r.state) for r in store.iter_runs(use_index=False))
    assert with_index == without


def test_a_listing_stopped_early_has_written_the_whole_index_and_leaves_no_temp(store):
    """The index is written before the first run is given (nothing a caller does to a
    record can reach it), so a caller that stops early finds it whole."""
    make_runs(store, 3)
    listed(store)
    subprocess.run([sys.executable, "-c", "import wandb_cli as w; r = w.init(); r.finish()"],
                   check=True, env={**os.environ, "WBRUN_DIR": str(store.root)})
    age(store, 3600)
    runs = Store(store.root).iter_runs()
    next(runs).tags.append("changed by the caller")
    runs.close()  # e.g. `find` by name stopping at the first match
    assert len(index_lines(store)[1]) == 4
    assert [p.name for p in index.index_path(store.root).parent.iterdir() if ".tmp-" in p.name] == []
    assert _as_dicts(store) == _as_dicts(store, use_index=False)


def test_an_index_of_other_fields_is_ignored_and_rebuilt(store):
    """An index written by a wbrun whose records had other fields (an older or newer
    version): its header does not match, so its entries are not used, and it is rebuilt."""
    ids = make_runs(store, 3)
    listed(store)
    path = index.index_path(store.root)
    _, lines, tail = index_lines(store)
    other = jsonio.dumps(index.header([*RECORD_FIELDS, "new_field"]))
    forged = []
    for line in lines:
        name, sig, entry = jsonio.loads(line)
        entry[0][RECORD_FIELDS.index("name")] = "from-another-version"
        forged.append(jsonio.dumps([name, sig, entry]))
    path.write_bytes(b"\n".join([other, *forged, jsonio.dumps(tail)]) + b"\n")
    records = listed(store)
    assert set(records) == set(ids)
    assert all(r.name != "from-another-version" for r in records.values())
    assert path.read_bytes().splitlines()[0] == jsonio.dumps(index.header(RECORD_FIELDS))


def test_runs_come_newest_first_by_folder_whichever_the_index_holds(store):
    """Runs come in the order of their folders' names, newest first (a name starts with the
    run's start), cached or not (a NaN summary is never cached), in every listing; the index
    is kept in that order, and an index in another order is rewritten in it."""
    for run_id, loss in (("aaa", 1.0), ("bbb", float("nan")), ("ccc", 2.0)):
        record_run(store, id=run_id, metrics=[{"loss": loss}])
        time.sleep(1.05)  # a folder name holds its start to the second
    age(store, 3600)
    listings = [[r.id for r in Store(store.root).iter_runs()] for _ in range(3)]
    assert listings == [["ccc", "bbb", "aaa"]] * 3
    path = index.index_path(store.root)
    header, lines, tail = index_lines(store)
    folders = [jsonio.loads(line)[0] for line in lines]
    assert folders == sorted(folders, reverse=True) and len(folders) == 2  # (NaN: not cached)
    assert tail["folders"] == folders  # (bbb: not cached, named as such)
    assert tail["uncached"] == [os.path.basename(Store(store.root).find("bbb").dir)]
    path.write_bytes(b"\n".join([header, *reversed(lines)]) + b"\n")
    assert [r.id for r in Store(store.root).iter_runs()] == ["ccc", "bbb", "aaa"]
    assert index_lines(store)[1] == lines
    time.sleep(1.05)
    record_run(store, id="ddd")
    age(store, 3600)
    assert [r.id for r in Store(store.root).iter_runs()] == ["ddd", "ccc", "bbb", "aaa"]
    assert [jsonio.loads(line)[0] for line in index_lines(store)[1]] == \
        [os.path.basename(Store(store.root).find("ddd").dir), *folders]


@pytest.fixture
def quick_settle(monkeypatch):
    """Index entries and the store folder's identity count as settled 0.1 s after a change
    (2 s by default, for coarse file system clocks: ext4's and tmpfs's are in ns)."""
    monkeypatch.setattr(index, "RACY_NS", 100_000_000)
    return lambda: time.sleep(0.15)


@pytest.fixture
def scandirs(monkeypatch) -> list:
    """The folders os.scandir is asked to list from now on (by path; shutil lists by
    descriptor too)."""
    calls: list = []
    real = os.scandir

    def spy(path="."):
        if not isinstance(path, int):
            calls.append(Path(path))
        return real(path)
    monkeypatch.setattr(os, "scandir", spy)
    return calls


def test_an_unchanged_store_folder_is_not_listed_again_and_a_change_to_it_is_seen(
        store, quick_settle, scandirs):
    """The trailer identifies the store folder (inode, status change time) once that
    time has settled; while it is the same, a listing takes the folders from the index.  A
    run folder renamed, removed or created changes it, and the next listing lists the store."""
    ids = make_runs(store, 3)
    quick_settle()
    listed(store)
    st = os.stat(store.root)
    assert index_lines(store)[2]["store"] == [st.st_ino, st.st_ctime_ns]
    scandirs.clear()
    assert set(listed(store)) == set(ids)
    assert scandirs == []  # taken from the index
    moved = store.root / "run-19990101_000000-moved"
    os.rename(store.find(ids[0]).dir, moved)
    runs = listed(store)
    assert set(runs) == set(ids) and runs[ids[0]].dir == str(moved)
    assert scandirs == [store.root]
    for change in (lambda: shutil.rmtree(moved), lambda: record_run(store, id="fresh")):
        quick_settle()
        listed(store)  # (settled: the identity is recorded again, and then trusted)
        scandirs.clear()
        listed(store)
        assert scandirs == []
        change()
        scandirs.clear()
        listed(store)
        assert scandirs == [store.root]
    assert set(listed(store)) == {*ids[1:], "fresh"}


def test_a_run_never_cached_is_still_listed_from_the_trailer(store, quick_settle, scandirs):
    """A run the index cannot hold (a NaN in its summary) is named in the trailer's
    `uncached`: listings that trust the store folder's identity still show it, and leave
    the index as it is."""
    make_runs(store, 2)
    record_run(store, id="nanrun", metrics=[{"loss": float("nan")}])
    age(store, 3600)
    quick_settle()
    listed(store)
    assert len(index_lines(store)[2]["uncached"]) == 1
    written = _written(store)
    scandirs.clear()
    for _ in range(2):
        runs = listed(store)
        assert "nanrun" in runs and len(runs) == 3
    assert scandirs == []
    assert _written(store) == written  # (not rewritten either)


def test_a_store_folder_changed_within_the_racy_window_is_not_recorded(store):
    make_runs(store, 2)  # (the store folder changed just now)
    listed(store)
    assert index_lines(store)[2]["store"] is None


def test_a_copy_over_the_store_that_restores_its_times_is_still_seen(store, quick_settle, tmp_path):
    """`cp -a` of another store into this one brings its index and sets this store folder's
    modification time to the other's; the identity (inode, status change time) still
    differs, so this store's own runs are listed with the other's."""
    ids = make_runs(store, 1)
    other = Store(tmp_path / "other")
    other_ids = make_runs(other, 2)
    quick_settle()
    listed(other)
    assert index_lines(other)[2]["store"] is not None
    subprocess.run(["cp", "-a", f"{other.root}/.", str(store.root)], check=True)
    assert os.stat(store.root).st_mtime_ns == os.stat(other.root).st_mtime_ns
    assert set(listed(store)) == {*ids, *other_ids}


@pytest.mark.parametrize(("names", "plain"), [
    ([], True), (["run-a"], True), (["run-b", "run-a"], True), (["run-a", "run-"], True),
    ([""], False), (["run-a", "xrun-b"], False), (["run-a", "run-b/../x"], False),
    (["run-a/run-b"], False), (["run-a", "x/run-b"], False), (["run-a/"], False), (["/run-a"], False),
    (["run-a\0"], False), (["run-a", 7], False), (["run-a", None], False)])
def test_a_trailer_s_folder_names_are_each_a_plain_run_folder_name(names, plain):
    assert indexread._folder_names(names) is plain


@pytest.mark.parametrize("case", ["a path out of the store", "not a run folder's name", "gone"])
def test_a_trailer_naming_what_is_no_run_folder_here_is_not_followed(store, quick_settle, tmp_path, case):
    """A trailer name with a separator, or not a run folder's, makes the trailer unreadable
    (the lines are read by their heads, the store listed); a run folder named in it that is
    gone is left out, and the store listed next time."""
    ids = make_runs(store, 2)
    outside = Store(tmp_path / "outside")
    record_run(outside, id="outsider")
    quick_settle()
    listed(store)
    inside = os.path.basename(store.find(ids[0]).dir)
    name = {"a path out of the store": "",
            "not a run folder's name": "outside", "gone": "run-19990101_000000-gone"}[case]
    if case == "a path out of the store":
        name = os.path.join(inside, os.path.relpath(outside.find("outsider").dir, store.root / inside))
        assert os.path.isdir(os.path.join(store.root, name, "files"))
    path = index.index_path(store.root)
    header, lines, tail = index_lines(store)
    tail["uncached"].append(name)
    path.write_bytes(b"\n".join([header, *lines, jsonio.dumps(tail)]) + b"\n")
    runs = listed(store)
    assert set(runs) == set(ids)
    assert name not in index_lines(store)[2]["uncached"]


_FORKED_LISTING = """
import json, os, signal, sys
from wandb_cli.store import index, layout, statchild
from wandb_cli.store.layout import Store
index.FORK_MIN = 1
statchild.may_fork = lambda: True  # (this test's subject is the fork, wherever it runs)
case = sys.argv[2]
forks, reads, seen = [], [], {}
real_fork, real_read = os.fork, layout.read_raw
def fork():
    if case == "fork refused":
        raise OSError(11, "Resource temporarily unavailable")
    pid = real_fork()
    forks.append(pid)
    if pid and case == "child killed":
        os.kill(pid, signal.SIGTERM)
    return pid
os.fork = fork
layout.read_raw = lambda run_dir: reads.append(os.path.basename(run_dir)) or real_read(run_dir)
if case == "child stops early":
    statchild._send = lambda fd, names, stat_one: os.write(
        fd, statchild.array("q", [stat_one(names[0])]).tobytes())
if case == "child killed":
    marks = sys.argv[3]
    signal.signal(signal.SIGTERM, lambda *_: open(marks, "a").write(f"handler in {os.getpid()}\\n"))
    real_send = statchild._send
    def slow_send(fd, names, stat_one):
        import time
        time.sleep(2)  # (the parent's SIGTERM arrives first)
        real_send(fd, names, stat_one)
    statchild._send = slow_send
if case == "descriptors":
    held = open(sys.argv[3], "w")
    real_send = statchild._send
    def report_send(fd, names, stat_one):
        try:
            os.fstat(held.fileno())
            seen["open"] = True
        except OSError:
            seen["open"] = False
        os.write(fd, statchild.array("q", [statchild.NONE if seen["open"] else 0]).tobytes())
    statchild._send = report_send
    print(json.dumps({"child saw the parent's file open": next(statchild.stat_all(
        ["x"], lambda name: 1, keep_fd=None, forked=True)) is None}))
    sys.exit(0)
runs = {r.id: [r.name, r.tags, r.summary] for r in Store(sys.argv[1]).iter_runs()}
print(json.dumps({"forks": len(forks), "runs": runs, "reads": reads}))
"""


def _forked_listing(store: Store, case: str, *extra: str) -> dict:
    result = subprocess.run([sys.executable, "-c", _FORKED_LISTING, str(store.root), case, *extra],
                            check=True, capture_output=True, text=True)
    assert result.stderr == ""
    return jsonio.loads(result.stdout)


@pytest.mark.parametrize("case", ["child sends all", "child stops early", "child killed",
                                  "fork refused"])
def test_a_big_store_is_stated_by_a_forked_child_with_the_same_result(store, case, tmp_path):
    """Where a store is big, a forked child stat()s the folders and its results are used:
    only the changed run's documents are read again.  If the child sends fewer results
    than asked, is killed (by a signal whose handler the program set: the child runs the
    default, not the handler), or the fork is refused, the listing stat()s the rest itself
    and is the same."""
    ids = make_runs(store, 4)
    listed(store)
    target = store.find(ids[2])
    _tag(store, ids[2], "changed")  # (changed, and outside the racy window)
    marks = tmp_path / "handler-marks"
    out = _forked_listing(store, case, str(marks))
    assert out["forks"] == (0 if case == "fork refused" else 1)
    expected = {r.id: [r.name, r.tags, r.summary] for r in Store(store.root).iter_runs(use_index=False)}
    assert out["runs"] == expected and out["runs"][ids[2]][1] == ["changed"]
    assert out["reads"] == [os.path.basename(target.dir)]
    assert not marks.exists()  # no handler of the program's ran, in the child or here


def test_the_forked_child_keeps_no_descriptor_of_the_parent_open(store, tmp_path):
    out = _forked_listing(store, "descriptors", str(tmp_path / "held"))
    assert out == {"child saw the parent's file open": False}


def test_no_fork_while_another_thread_runs():
    code = ("import threading, time; from wandb_cli.store import statchild; "
            "alone = statchild.may_fork(); "
            "threading.Thread(target=time.sleep, args=(1,), daemon=True).start(); "
            "print(alone, statchild.may_fork())")
    alone, with_thread = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                        text=True).stdout.split()
    assert with_thread == "False"
    assert alone == str(sys.platform.startswith("linux") and len(os.sched_getaffinity(0)) > 1)


def test_an_index_without_a_trailer_is_used_and_given_one(store, monkeypatch):
    """An index written before the trailer existed (the same lines, the same format): its
    entries are used (no run's documents read again) and it is rewritten with a trailer."""
    ids = make_runs(store, 3)
    listed(store)
    path = index.index_path(store.root)
    header, lines, _ = index_lines(store)
    path.write_bytes(b"\n".join([header, *lines]) + b"\n")
    reads = _documents_read(monkeypatch)
    assert set(listed(store)) == set(ids)
    assert reads == []
    assert index_lines(store) [:2] == (header, lines)
    assert len(index_lines(store)[2]["folders"]) == 3


def test_a_run_folder_name_json_cannot_hold_is_listed_without_rewriting_the_index(store, quick_settle):
    """A folder name that is not UTF-8 (bytes from another system) cannot be written in the
    trailer: it is left out of it and the store is listed each time, but the index is not
    rewritten every listing."""
    ids = make_runs(store, 2)
    folder = os.fsencode(store.find(ids[0]).dir)
    os.rename(folder, folder + b"\xff")
    quick_settle()
    assert set(listed(store)) == set(ids)
    written = _written(store)
    for _ in range(2):
        assert set(listed(store)) == set(ids)
    assert _written(store) == written
    assert index_lines(store)[2]["store"] is None


# -- the columns file: the index's entries a field at a time, built into records at once ----
def test_the_columns_file_gives_the_same_records_as_the_lines_and_the_documents(store, monkeypatch):
    ids = make_runs(store, 4)
    record_run(store, id="nested1", config={"opt": {"lr": 0.1, "betas": [0.9, 0.99]}},
               tags=["a", "b"], group="g", metrics=[{"val_loss": 0.3, "acc": 1}])
    age(store, 3600)
    from_documents = _as_dicts(store, use_index=False)
    assert _as_dicts(store) == from_documents  # (no index yet: the documents, then both files written)
    assert index.columns_path(store.root).exists()
    parsed, reads = _no_line_parsed(monkeypatch), _documents_read(monkeypatch)
    assert _as_dicts(store) == from_documents
    assert parsed == [] and reads == []  # every record from the columns
    index.columns_path(store.root).unlink()
    assert _as_dicts(store) == from_documents  # from the lines, which write the columns again
    assert len(parsed) == len(ids) + 1 and reads == []
    assert index.columns_path(store.root).exists()


def test_a_changed_run_is_read_again_and_both_files_rewritten_as_a_rebuild_would(store):
    ids = make_runs(store, 4)
    listed(store)
    target = store.find(ids[1])
    _tag(store, ids[1], "changed")
    assert listed(store)[ids[1]].tags == ["changed"]
    assert index.columns_path(store.root).exists()
    written = index_lines(store)[1], index.columns_path(store.root).read_bytes()
    for path in (index.index_path(store.root), index.columns_path(store.root)):
        path.unlink()
    assert listed(store)[ids[1]].tags == ["changed"]  # (rebuilt from the documents)
    assert (index_lines(store)[1], index.columns_path(store.root).read_bytes()) == written
    assert os.path.basename(target.dir) in index_lines(store)[2]["folders"]


def test_a_columns_file_of_another_index_is_not_used(store, monkeypatch):
    """Columns written with an earlier index (an older wbrun rewrote it, or it was put back
    from a copy) hold what the runs were then: they are ignored, the lines used."""
    ids = make_runs(store, 3)
    listed(store)
    stale = index.columns_path(store.root).read_bytes()
    _tag(store, ids[0], "new")
    assert listed(store)[ids[0]].tags == ["new"]
    index.columns_path(store.root).write_bytes(stale)
    parsed = _no_line_parsed(monkeypatch)
    assert listed(store)[ids[0]].tags == ["new"]
    assert len(parsed) == 3  # the lines were read: the columns belonged to another index
    assert index.columns_path(store.root).read_bytes() != stale  # and written for this one


@pytest.mark.parametrize("damage", ["cut short", "a column too short", "not JSON", "a line more",
                                    "no header", "empty"])
def test_a_damaged_columns_file_is_ignored_and_written_again(store, damage):
    ids = make_runs(store, 3)
    expected = _as_dicts(store)
    path = index.columns_path(store.root)
    header, *columns, _ = path.read_bytes().split(b"\n")
    if damage == "cut short":
        damaged = b"\n".join([header, *columns[:5]]) + b"\n"
    elif damage == "a column too short":
        short = jsonio.loads(columns[1])[:-1]
        damaged = b"\n".join([header, columns[0], jsonio.dumps(short), *columns[2:]]) + b"\n"
    elif damage == "not JSON":
        damaged = b"\n".join([header, b"[1,2", *columns[1:]]) + b"\n"
    elif damage == "a line more":
        damaged = b"\n".join([header, *columns, b"[]"]) + b"\n"
    elif damage == "no header":
        damaged = b"\n".join(columns) + b"\n"
    else:
        damaged = b""
    path.write_bytes(damaged)
    assert _as_dicts(store) == expected and set(expected) == set(ids)
    assert path.read_bytes() == b"\n".join([header, *columns]) + b"\n"  # written again
    assert _as_dicts(store) == expected


def _columns_lines(store: Store) -> tuple[dict, dict[str, bytes]]:
    """The columns file's first line, and each field's line by its name."""
    first, *lines, _ = index.columns_path(store.root).read_bytes().split(b"\n")
    return jsonio.loads(first), dict(zip([*RECORD_FIELDS, "run"], lines))


def _shared_runs(store: Store, count: int = 16) -> dict[str, dict]:
    """Runs sharing a project, group and state (coded columns), each with its own command,
    SLURM job and torchrun rank (deferred columns), one with an oversize config (deferred
    too); their dicts as read from the documents."""
    for i in range(count):
        env = {**os.environ, "SLURM_JOB_ID": str(1000 + i), "RANK": str(i), "WORLD_SIZE": str(count)}
        config = {"i": i, "table": "x" * (1 << 20)} if i == 5 else {"i": i}
        record_run(Store(store.root, env=env), project="shared", group=f"g{i % 2}",
                   command=["python", "t.py", f"--seed={i}"], config=config)
    age(store, 3600)
    expected = _as_dicts(store, use_index=False)
    for field in ("slurm", "dist", "command"):  # (each run its own)
        assert len({jsonio.dumps(run[field]) for run in expected.values()}) == count
    assert sum(bool(run.get("oversize")) for run in expected.values()) == 1
    return expected


def test_shared_texts_are_coded_and_rarely_read_fields_deferred_and_read_when_asked(store, monkeypatch):
    expected = _shared_runs(store)
    assert _as_dicts(store) == expected  # (written from the documents)
    first, lines = _columns_lines(store)
    coded = jsonio.loads(lines["project"])
    assert coded == {"values": ["shared"], "codes": indexread.CODE_CHARS[0] * 16}
    assert jsonio.loads(lines["group"])["values"] in (["g0", "g1"], ["g1", "g0"])
    assert jsonio.loads(lines["id"])[0] in expected  # (all different: kept as they are)
    at = str(RECORD_FIELDS.index("command"))
    assert first["deferred"][at] == indexread.line_digest(lines["command"])
    assert set(first["deferred"]) == {str(RECORD_FIELDS.index(name)) for name in layout.DEFERRED_FIELDS}
    asked = []  # (each time a deferred column's values are asked for)
    real = indexread.Deferred.values
    monkeypatch.setattr(indexread.Deferred, "values", lambda self: asked.append(self) or real(self))
    parsed = _no_line_parsed(monkeypatch)
    records = list(Store(store.root).iter_runs())
    assert parsed == [] and asked == []  # from the columns, no deferred one parsed yet
    assert [r.project for r in records] == ["shared"] * 16
    by_id = {r.id: r for r in records}
    some = records[3]
    assert some.command == expected[some.id]["command"] and len(asked) == 1
    assert some.command is some.command and len(asked) == 1  # (kept by the record)
    layout.read_deferred(records)  # (every deferred field set at once: each column asked once more)
    assert len(asked) == 1 + len(layout.DEFERRED_FIELDS)
    assert {r.id: r.to_dict() for r in records} == expected  # every deferred field read right
    assert len(asked) == 1 + len(layout.DEFERRED_FIELDS)  # (none asked for again)
    assert by_id == {r.id: r for r in Store(store.root).iter_runs(use_index=False)}
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        some.nothing  # noqa: B018 (a name no field has is an error still)
    assert not hasattr(some, "nothing")


@pytest.mark.parametrize("damage", ["a deferred column edited", "a code of no text", "codes too short",
                                    "codes not text"])
def test_a_damaged_coded_or_deferred_column_is_never_used(store, damage, monkeypatch):
    """A deferred column is parsed only once asked for, so it is checked against its digest
    first; a coded one is checked as it is decoded.  Either damaged: the lines are read."""
    expected = _shared_runs(store)
    assert _as_dicts(store) == expected
    path = index.columns_path(store.root)
    whole = path.read_bytes()
    first, lines = _columns_lines(store)
    if damage == "a deferred column edited":  # (still JSON, of the same shape)
        lines["command"] = lines["command"].replace(b"--seed=1", b"--seed=9", 1)
    else:
        coded = jsonio.loads(lines["project"])
        codes = coded["codes"]
        coded["codes"] = {"a code of no text": codes[:-1] + indexread.CODE_CHARS[5],
                          "codes too short": codes[:-1], "codes not text": [0] * len(codes)}[damage]
        lines["project"] = jsonio.dumps(coded)
    path.write_bytes(b"\n".join([jsonio.dumps(first), *lines.values()]) + b"\n")
    parsed = _no_line_parsed(monkeypatch)
    assert _as_dicts(store) == expected
    assert len(parsed) == 16  # the lines were read
    assert path.read_bytes() == whole  # and the columns written again


def test_a_record_built_from_the_columns_equals_one_read_from_the_documents(store):
    _shared_runs(store, 8)
    listed(store)
    from_columns = {r.id: r for r in Store(store.root).iter_runs()}
    assert all(r.deferred is not None for r in from_columns.values())
    assert from_columns == {r.id: r for r in Store(store.root).iter_runs(use_index=False)}


def test_deferred_fields_set_at_once_for_records_of_two_listings_and_none(store):
    """read_deferred sets each record's own values, whichever listing it came from, and
    leaves a record read from the documents as it is."""
    expected = _shared_runs(store, 10)
    listed(store)
    first, second = list(Store(store.root).iter_runs()), list(Store(store.root).iter_runs())
    afresh = Store(store.root).read(Path(first[0].dir))
    mixed = [afresh, *first[1:5], *second[5:]]
    assert afresh.deferred is None and first[1].deferred[0] is not second[5].deferred[0]
    layout.read_deferred(mixed)
    for record in mixed:
        for name in layout.DEFERRED_FIELDS:  # (set: the slot itself holds it, no read needed)
            assert getattr(RunRecord, name).__get__(record) == expected[record.id].get(name, {})
        assert record.to_dict() == expected[record.id]
    assert all(r.deferred is None for r in mixed)  # (all set: the columns no longer referred to)
    with pytest.raises(AttributeError):  # (records not given were left alone)
        RunRecord.slurm.__get__(second[0])
    assert [r.slurm for r in second[:5]] == [expected[r.id]["slurm"] for r in second[:5]]  # (read alone)


def test_a_filter_sort_or_group_on_a_deferred_field_sets_it_on_every_run_at_once(store, monkeypatch):
    """`command =~`, a sort on `dist.rank`, a group by `slurm.job_id`: each field is set on
    all the records by read_deferred, none read one record at a time; `oversize`, which no
    key names, stays unread."""
    from wandb_cli.query.filter import select_runs
    from wandb_cli.query.group import group_runs

    expected = _shared_runs(store, 10)
    listed(store)
    one_by_one = []
    real = layout._Later.value
    monkeypatch.setattr(layout._Later, "value",
                        lambda self, name, row: one_by_one.append(name) or real(self, name, row))
    records = list(Store(store.root).iter_runs())
    chosen = select_runs(records, filter_expr="command =~ 'seed=[1-3]$' or command =~ 'seed=7'",
                         sort=["-dist.rank"])
    assert [r.command[-1] for r in chosen] == ["--seed=7", "--seed=3", "--seed=2", "--seed=1"]
    fresh = list(Store(store.root).iter_runs())  # (none of the fields set yet)
    groups = group_runs(fresh, ["slurm.job_id"], stats=["dist.rank"], sort=["-command"], presorted=True)
    assert [g.values[0] for g in groups] == [1000 + i for i in (9, 8, 7, 6, 5, 4, 3, 2, 1, 0)]
    assert [g.stats["dist.rank"].mean for g in groups] == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    assert one_by_one == []
    assert all(r.deferred is not None for r in records)  # (oversize: still to be read)
    with pytest.raises(AttributeError):
        RunRecord.oversize.__get__(records[0])
    layout.read_deferred(records, ("command",))  # (a field set already: set again, the same)
    assert {r.id: r.to_dict() for r in records} == expected
    # (to_dict read those no key of these records named, record by record)
    assert sorted(one_by_one) == ["oversize"] * 10 + ["slurm"] * 10


def test_a_column_that_makes_no_values_reads_no_deferred_field(store, monkeypatch):
    """--group-by's columns (cells=False) make no values for `command`: its column is not
    parsed; a column of `dist.rank` is read at once for all the records."""
    from wandb_cli.views.columns import run_columns

    _shared_runs(store, 6)
    listed(store)
    asked = []
    real = indexread.Deferred.values
    monkeypatch.setattr(indexread.Deferred, "values", lambda self: asked.append(self) or real(self))
    records = list(Store(store.root).iter_runs())
    source = records[0].deferred[0]
    columns = run_columns(records, columns=["id", "command", "dist.rank"], cells=False)
    assert asked == [source.columns["dist"]]  # (asked once, for all the records; never command's)
    for record in records:
        RunRecord.dist.__get__(record)  # (set on the record itself)
        with pytest.raises(AttributeError):
            RunRecord.command.__get__(record)
    assert [c.values for c in columns[1:]] == [[], [r.dist["rank"] for r in records]]


def test_a_copy_or_pickle_of_a_record_from_the_columns_holds_that_run_alone(store):
    """Every field, the deferred ones read, and none of the other runs' texts."""
    import copy
    import pickle

    _shared_runs(store, 8)
    listed(store)
    list(Store(store.root).iter_runs(texts=True))  # (writes the rows file)
    records = list(Store(store.root).iter_runs(texts=True))  # (each refers to it)
    record = next(r for r in records if r.command[-1] == "--seed=3")
    assert record.rendered is not None and record.deferred is not None
    blob = pickle.dumps(record)
    assert b"--seed=3" in blob and b"--seed=4" not in blob
    assert b"Deferred" not in blob and b"Texts" not in blob
    for again in (pickle.loads(blob), copy.copy(record), copy.deepcopy(record)):
        assert again == record and again.slurm == {"job_id": 1003}
        assert again.deferred is None and again.rendered is None


def test_the_statting_child_s_pipe_holds_a_big_store_s_results():
    """The pipe is widened so the child need not wait while the listing builds records."""
    import fcntl

    from wandb_cli.store import statchild

    read_end, write_end = os.pipe()
    try:
        statchild._widen(write_end, 8 * 100_000)
        with open("/proc/sys/fs/pipe-max-size") as fh:
            most = int(fh.read())
        assert fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ) >= min(8 * 100_000, most)
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_rewrite_with_the_columns_never_copies_a_line_to_another_run(store, monkeypatch):
    """The lines of an index whose trailer (and so its columns) still hold are copied into
    the rewritten index only where each is its own run's (here one line was cut out, so
    every later line sits one place early); the others are written again from the columns."""
    ids = make_runs(store, 4)
    expected = _as_dicts(store)
    path = index.index_path(store.root)
    header, lines, tail = index_lines(store)
    path.write_bytes(b"\n".join([header, *lines[:1], *lines[2:], jsonio.dumps(tail)]) + b"\n")
    assert _as_dicts(store) == expected  # (the columns still belong: the trailer is the same)
    newest = max(ids, key=lambda run_id: os.path.basename(store.find(run_id).dir))
    _tag(store, newest, "t")
    expected[newest]["tags"] = ["t"]
    parsed = _no_line_parsed(monkeypatch)
    assert _as_dicts(store) == expected  # rewritten: the tagged run is read again
    assert parsed == []  # (from the columns)
    _, lines, tail = index_lines(store)
    assert [jsonio.loads(line)[0] for line in lines] == tail["folders"]
    index.columns_path(store.root).unlink()
    assert _as_dicts(store) == expected  # the lines alone say the same


def test_a_run_from_the_columns_whose_folder_is_gone_is_never_judged(store):
    """Items are judged only once their entries are known valid: a cached crashed run whose
    folder became a plain file is neither judged (its history read) nor listed."""
    make_runs(store, 2)
    dead = start_run(store, RunSpec(id="dead1"), pid=os.getpid(), recorder="test")
    dead.release_alive()
    folder = store.find("dead1").dir
    update_run_doc(RunPaths(Path(folder)), lambda doc: doc.update(heartbeat=1.0, created=1.0))
    age(store, 3600)
    assert listed(store)["dead1"].state == "crashed"
    assert index.columns_path(store.root).exists()
    shutil.rmtree(folder)
    Path(folder).write_text("")  # (a stat of folder/files now fails with ENOTDIR)
    assert _as_dicts(store) == _as_dicts(store, use_index=False)
    assert "dead1" not in listed(store)


def test_a_config_nested_past_orjson_s_depth_is_cached_in_both_files(store, monkeypatch):
    config: dict = {"leaf": 1}
    for _ in range(260):
        config = {"a": config}
    ids = make_runs(store, 2)
    ids.append(record_run(store, config={"deep": config}))
    age(store, 3600)
    expected = _as_dicts(store, use_index=False)
    assert _as_dicts(store) == expected
    written = _written(store)
    parsed = _no_line_parsed(monkeypatch)
    assert _as_dicts(store) == expected
    assert parsed == [] and _written(store) == written  # from the columns, nothing rewritten


def test_a_failed_commit_leaves_no_temporary_file(store):
    make_runs(store, 3)
    path = index.index_path(store.root)
    path.unlink(missing_ok=True)
    path.mkdir()  # (the index cannot be put in place)
    for _ in range(2):
        assert len(listed(store)) == 3
    assert [p.name for p in path.parent.iterdir() if ".tmp-" in p.name] == []


def test_an_interrupt_while_the_old_lines_are_copied_leaves_no_temporary_file(store, monkeypatch):
    ids = make_runs(store, 3)
    listed(store)
    shutil.rmtree(store.find(ids[0]).dir)  # (only a removal: the old lines are copied at the end)

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(index._Read, "old_line", interrupted)
    with pytest.raises(KeyboardInterrupt):
        listed(store)
    assert [p.name for p in index.index_path(store.root).parent.iterdir() if ".tmp-" in p.name] == []
    monkeypatch.undo()
    assert set(listed(store)) == set(ids[1:])


def test_an_index_that_cannot_be_read_again_after_its_columns_failed_is_done_without(store, monkeypatch):
    """The columns file fails after its first line (replaced meanwhile, with the index) and
    reading the index again fails too (a stale NFS handle): every run is read afresh."""
    ids = make_runs(store, 3)
    listed(store)
    path = index.columns_path(store.root)
    header = path.read_bytes().split(b"\n")[0]
    path.write_bytes(header + b"\n[1,2\n")
    real = indexread._read
    failed = []

    def stale(root, schema, fh, *, columns=True):
        if not columns:
            failed.append(fh)
            raise OSError(116, "Stale file handle")
        return real(root, schema, fh, columns=columns)

    monkeypatch.setattr(indexread, "_read", stale)  # (as _Read.without_columns reads it again)
    assert _as_dicts(store) == _as_dicts(store, use_index=False)
    assert failed  # (the index was read again after its columns failed, and that failed)
    assert set(listed(store)) == set(ids)


def test_json_output_keeps_a_crashed_run_s_nan_from_its_history_with_the_columns(store):
    """Records from the columns are known finite (`--format json` skips looking for NaN),
    but a crashed run's summary is read again from its history, which may hold NaN."""
    make_runs(store, 2)
    dead = start_run(store, RunSpec(id="nanrun1"), pid=os.getpid(), recorder="test")
    dead.log({"loss": 1.0})
    dead.flush_summary()
    dead.release_alive()
    folder = Path(store.find("nanrun1").dir)
    update_run_doc(RunPaths(folder), lambda doc: doc.update(heartbeat=1.0, created=1.0))
    with open(folder / "files" / layout.HISTORY, "ab") as fh:  # (an append: no new signature)
        fh.write(jsonio.dumps({"_step": 1, "loss": float("nan")}) + b"\n")
    age(store, 3600)

    def json_listing() -> dict[str, dict]:
        out = subprocess.run([sys.executable, "-m", "wandb_cli", "runs", "ls", "--format", "json",
                              "--dir", str(store.root)], check=True, capture_output=True).stdout
        return {run["id"]: run for run in jsonio.loads(out)}

    first = json_listing()
    assert index.columns_path(store.root).exists()
    records = listed(store)  # (from the columns)
    assert [r.finite for r in records.values()] == [r.id != "nanrun1" for r in records.values()]
    assert records["nanrun1"].state == "crashed"
    for runs in (first, json_listing()):
        loss = runs["nanrun1"]["summary"]["loss"]
        assert loss != loss, runs["nanrun1"]["summary"]  # NaN, not null
