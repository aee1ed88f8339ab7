"""The run index: used when valid, never trusted blindly, rebuilt by itself."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest
from helpers import record_run

from wandb_cli.store import index, jsonio
from wandb_cli.store.layout import RECORD_FIELDS, Store
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


@pytest.fixture
def store(store_dir) -> Store:
    return Store(store_dir)


def test_first_listing_builds_the_index_and_the_second_uses_it(store, monkeypatch):
    ids = make_runs(store, 5)
    assert set(listed(store)) == set(ids)
    assert index.index_path(store.root).exists()
    reads = []
    real = __import__("wandb_cli.store.layout", fromlist=["read_raw"]).read_raw
    monkeypatch.setattr("wandb_cli.store.layout.read_raw", lambda d: reads.append(d) or real(d))
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


def test_a_stale_entry_with_a_wrong_signature_is_not_used(store):
    make_runs(store, 2)
    listed(store)
    path = index.index_path(store.root)
    lines = path.read_bytes().splitlines()
    forged = []
    for line in lines[1:]:
        name, sig, entry = jsonio.loads(line)
        entry[0][RECORD_FIELDS.index("name")] = "forged"
        forged.append(jsonio.dumps([name, sig - 1, entry]))
    path.write_bytes(b"\n".join([lines[0], *forged]) + b"\n")
    assert all(r.name != "forged" for r in listed(store).values())


def test_recent_changes_are_never_cached(store):
    make_runs(store, 2, age_s=0)  # folders changed just now: inside the racy window
    assert len(listed(store)) == 2
    path = index.index_path(store.root)
    assert not path.exists() or len(path.read_bytes().splitlines()) == 1  # no entry cached
    age(store, 3600)  # once the folders are old enough, the next listing caches them
    assert len(listed(store)) == 2
    assert len(path.read_bytes().splitlines()) == 3


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
    assert listed(store)[live.id].state == "crashed"


def test_iter_runs_without_index_gives_the_same_records(store):
    make_runs(store, 3)
    with_index = sorted((r.id, r.name, r.state) for r in store.iter_runs())
    without = sorted((r.id, r.name, r.state) for r in store.iter_runs(use_index=False))
    assert with_index == without


def test_a_listing_stopped_early_keeps_the_old_index_and_leaves_no_temp(store):
    make_runs(store, 3)
    listed(store)
    before = index.index_path(store.root).read_bytes()
    subprocess.run([sys.executable, "-c", "import wandb_cli as w; r = w.init(); r.finish()"],
                   check=True, env={**os.environ, "WBRUN_DIR": str(store.root)})
    age(store, 3600)
    runs = Store(store.root).iter_runs()
    next(runs)
    runs.close()  # e.g. `find` by name stopping at the first match
    assert index.index_path(store.root).read_bytes() == before
    assert [p.name for p in index.index_path(store.root).parent.iterdir() if ".tmp-" in p.name] == []
    assert len(listed(store)) == 4  # and the next full listing writes the new index
    assert len(index.index_path(store.root).read_bytes().splitlines()) == 5


def test_an_index_of_other_fields_is_ignored_and_rebuilt(store):
    """An index written by a wbrun whose records had other fields (an older or newer
    version): its header does not match, so its entries are not used, and it is rebuilt."""
    ids = make_runs(store, 3)
    listed(store)
    path = index.index_path(store.root)
    lines = path.read_bytes().splitlines()
    other = jsonio.dumps(index.header([*RECORD_FIELDS, "new_field"]))
    forged = []
    for line in lines[1:]:
        name, sig, entry = jsonio.loads(line)
        entry[0][RECORD_FIELDS.index("name")] = "from-another-version"
        forged.append(jsonio.dumps([name, sig, entry]))
    path.write_bytes(b"\n".join([other, *forged]) + b"\n")
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
    header, *lines = path.read_bytes().splitlines()
    folders = [jsonio.loads(line)[0] for line in lines]
    assert folders == sorted(folders, reverse=True) and len(folders) == 2  # (NaN: not cached)
    path.write_bytes(b"\n".join([header, *reversed(lines)]) + b"\n")
    assert [r.id for r in Store(store.root).iter_runs()] == ["ccc", "bbb", "aaa"]
    assert path.read_bytes().splitlines()[1:] == lines
    time.sleep(1.05)
    record_run(store, id="ddd")
    age(store, 3600)
    assert [r.id for r in Store(store.root).iter_runs()] == ["ddd", "ccc", "bbb", "aaa"]
    assert [jsonio.loads(line)[0] for line in path.read_bytes().splitlines()[1:]] == \
        [os.path.basename(Store(store.root).find("ddd").dir), *folders]
