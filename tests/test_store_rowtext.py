"""`runs ls --format json` from the index's rows file: the same bytes as encoding each run, never a
text of another index or of a run as it was."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
from helpers import record_run

from wandb_cli.cli import main
from wandb_cli.store import index, layout, rowtext
from wandb_cli.store.layout import RunPaths, Store, update_run_doc
from wandb_cli.store.model import RunRecord
from wandb_cli.store.recorder import RunSpec, start_run
from wandb_cli.views import listing
from wandb_cli.views.output import print_json


def age(root: Path, *only: str) -> None:
    """Every run's changes (or only these runs') look an hour old (outside the index's racy
    window; a run whose time moves is read again)."""
    old = time.time() - 3600
    for run_dir in Store(root).run_dirs():
        if not only or run_dir.name.endswith(only):
            os.utime(run_dir / "files", (old, old))


@pytest.fixture(autouse=True)
def settled(monkeypatch) -> None:
    """The scan's clock an hour ahead: the store folder has settled from the first listing
    (its trailer names it at once), not 2 s (RACY_NS) after its last change, which would
    rewrite the index in whichever listing comes then (a reference one, whose rows file is
    not written, too: CI's stop 28 failed so)."""
    ahead = 3600 * 10 ** 9
    monkeypatch.setattr(index, "time", types.SimpleNamespace(time_ns=lambda: time.time_ns() + ahead))


def run_main(*args: str) -> None:
    """`wbrun ARGS` in this process (main() ends by SystemExit)."""
    try:
        main(list(args))
    except SystemExit as stop:
        assert stop.code in (0, None)


def json_listing(root: Path, capsysbinary, monkeypatch, *, texts: bool = True, args=()) -> bytes:
    """`runs ls --format json` in this process; without `texts`, as print_json writes it from
    each run's to_dict() (the rows file neither read nor written)."""
    with monkeypatch.context() as patch:
        if not texts:
            patch.setattr(listing, "runs_json", lambda rows: None)
            patch.setattr(rowtext, "load", lambda *a: None)
            patch.setattr(index._Writer, "_write_rows", lambda *a: None)
            patch.setattr(index, "_write_rows_alone", lambda *a: None)
        capsysbinary.readouterr()
        run_main("runs", "ls", "--format", "json", "--dir", str(root), *args)
        return capsysbinary.readouterr().out


def written(root: Path) -> list[tuple[int, int]]:
    """When and as what the index and its columns were last written."""
    return [(st.st_ino, st.st_mtime_ns) for st in
            map(os.stat, (index.index_path(root), index.columns_path(root)))]


def encoded(monkeypatch) -> list[str]:
    """The runs to_dict() is called for from now on (none, where the rows file has them)."""
    calls: list[str] = []
    real = RunRecord.to_dict
    monkeypatch.setattr(RunRecord, "to_dict", lambda self: calls.append(self.id) or real(self))
    return calls


def rendered(monkeypatch) -> list[str]:
    """The entries rendered for the rows file from now on (by the run's ID)."""
    calls: list[str] = []
    real = layout.render_entry
    monkeypatch.setattr(layout, "render_entry",
                        lambda entry: calls.append(entry[0][0]) or real(entry))
    return calls


@pytest.fixture
def root(tmp_path) -> Path:
    """A store whose path JSON must escape: its runs' `dir` is spelt with \\" and \\\\."""
    return tmp_path / 'st"ore\\é'


def varied_runs(root: Path) -> None:
    store = Store(root)
    record_run(store, id="plain001", config={"lr": 0.1}, metrics=[{"val_loss": 0.5}])
    record_run(store, id="nested01", name="ünï-cödé-1", notes='a "quoted" note\n\x1b[31mred',
               tags=["b", "ä"], group="g", job_type="train",
               config={"opt": {"lr": 0.1, "betas": [0.9, 0.99]}, "big": 10 ** 18, "none": None},
               metrics=[{"val_loss": 0.25, "acc": 1, "nested": {"x": [1, 2]}}])
    record_run(store, id="failed01", state="failed", metrics=[{"loss": 3.0}])
    dead = start_run(store, RunSpec(id="crashed1"), pid=os.getpid(), recorder="test")
    dead.log({"loss": 1.0})
    dead.flush_summary()
    dead.release_alive()
    update_run_doc(RunPaths(Path(store.find("crashed1").dir)),
                   lambda doc: doc.update(heartbeat=1.0, created=1.0))
    record_run(store, id="running1", state="running")  # (live: this process records it)
    age(root)


@pytest.fixture(params=["preadv", "read"])
def reads(request, monkeypatch) -> str:
    """Texts read by preadv (both parts in one call), or by a read of both then copied (as
    where there is no preadv: Windows)."""
    if request.param == "read":
        monkeypatch.setattr(rowtext, "_PREADV", None)
    elif rowtext._PREADV is None:
        pytest.skip("no preadv here")
    return request.param


def test_the_rows_file_gives_print_json_s_bytes_and_spares_encoding_the_runs(
        root, capsysbinary, monkeypatch, reads):
    varied_runs(root)
    expected = json_listing(root, capsysbinary, monkeypatch, texts=False)
    assert expected.count(b'"id"') == 5
    assert not index.rows_path(root).exists()  # (no JSON listing yet: no text rendered)
    assert json_listing(root, capsysbinary, monkeypatch) == expected  # (written again here)
    assert index.rows_path(root).exists()
    calls = encoded(monkeypatch)
    assert json_listing(root, capsysbinary, monkeypatch) == expected
    # only the runs judged as they are read are encoded: the others' texts are the file's
    assert sorted(calls) == ["crashed1", "running1"]
    filtered = json_listing(root, capsysbinary, monkeypatch, args=["--filter", "val_loss <= 0.5",
                                                                   "--sort", "-val_loss"])
    calls.clear()
    assert filtered == json_listing(root, capsysbinary, monkeypatch, texts=False,
                                    args=["--filter", "val_loss <= 0.5", "--sort", "-val_loss"])
    assert filtered.index(b"plain001") < filtered.index(b"nested01")


def test_the_real_program_writes_the_same_bytes_through_another_path_to_the_store(
        root, capsysbinary, monkeypatch, tmp_path):
    varied_runs(root)
    json_listing(root, capsysbinary, monkeypatch)  # (the rows file written, with this path)
    link = tmp_path / "elsewhere"
    link.symlink_to(root)
    out = subprocess.run([sys.executable, "-m", "wandb_cli", "runs", "ls", "--format", "json",
                          "--dir", str(link)], check=True, capture_output=True).stdout
    assert out == json_listing(link, capsysbinary, monkeypatch, texts=False)
    assert str(link).encode() in out and b"\\\\" not in out  # (no backslash in this path)


@pytest.mark.parametrize("copy", ["by the kernel", "read and written"])
def test_a_rewrite_renders_only_the_runs_read_afresh(root, capsysbinary, monkeypatch, copy):
    if copy == "read and written":
        monkeypatch.setattr(rowtext, "_COPY_RANGE", None)
    elif rowtext._COPY_RANGE is None:
        pytest.skip("no copy_file_range here")
    store = Store(root)
    ids = [record_run(store, config={"i": i}, metrics=[{"val_loss": i}]) for i in range(6)]
    age(root)
    json_listing(root, capsysbinary, monkeypatch)
    calls = rendered(monkeypatch)
    subprocess.run([sys.executable, "-m", "wandb_cli", "runs", "tag", ids[2], "changed",
                    "--dir", str(root)], check=True, capture_output=True)
    shutil.rmtree(store.find(ids[4]).dir)
    new = record_run(store, config={"i": 99})
    age(root, ids[2], new)
    out = json_listing(root, capsysbinary, monkeypatch)
    assert sorted(calls) == sorted([ids[2], new])  # the other four copied from the old file
    assert out == json_listing(root, capsysbinary, monkeypatch, texts=False)
    assert b'"changed"' in out and ids[4].encode() not in out
    calls.clear()
    encodes = encoded(monkeypatch)
    assert json_listing(root, capsysbinary, monkeypatch) == out
    assert calls == [] and encodes == []


def _other_index(path: Path) -> None:
    """The rows file of the index as it was before a run was added (put back from a copy)."""
    root = path.parent.parent
    kept = path.read_bytes()
    record_run(Store(root), id="latecome")
    age(root, "latecome")
    list(Store(root).iter_runs())
    path.write_bytes(kept)


def _offsets_backwards(path: Path) -> None:
    data = bytearray(path.read_bytes())
    at = data.index(b"\n") + 1 + 8  # the first row's middle: now past its end
    data[at:at + 8] = (1 << 40).to_bytes(8, sys.byteorder)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [
    "missing", "empty", "cut short", "longer", "other index", "offsets backwards", "first line"])
def test_a_rows_file_that_does_not_belong_is_not_used_and_written_alone(
        root, capsysbinary, monkeypatch, damage):
    store = Store(root)
    for i in range(4):
        record_run(store, config={"i": i}, metrics=[{"val_loss": i}])
    age(root)
    json_listing(root, capsysbinary, monkeypatch)
    path = index.rows_path(root)
    if damage == "missing":
        path.unlink()
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "cut short":
        path.write_bytes(path.read_bytes()[:-10])
    elif damage == "longer":
        path.write_bytes(path.read_bytes() + b" ")
    elif damage == "other index":
        _other_index(path)
    elif damage == "offsets backwards":
        _offsets_backwards(path)
    else:
        path.write_bytes(path.read_bytes().replace(b'"rows":4', b'"rows":3', 1))
    calls = rendered(monkeypatch)
    index_files = written(root)
    out = json_listing(root, capsysbinary, monkeypatch)
    assert written(root) == index_files  # (the index and its columns are not written again)
    assert out == json_listing(root, capsysbinary, monkeypatch, texts=False)
    assert len(calls) == out.count(b'"id"')  # every text rendered again, none taken from it
    first = path.read_bytes().split(b"\n", 1)[0]
    assert rowtext.load(path, json.loads(first)) is not None
    calls.clear()
    encodes = encoded(monkeypatch)
    assert json_listing(root, capsysbinary, monkeypatch) == out
    assert calls == [] and encodes == []


def test_a_rows_file_cut_short_once_open_gives_the_runs_encoded(root, capsysbinary, monkeypatch, reads):
    """Nothing wbrun does truncates it in place (it is replaced whole); whatever else does,
    a listing that has it open writes what print_json would, not a cut text."""
    store = Store(root)
    for i in range(3):
        record_run(store, config={"i": i})
    age(root)
    json_listing(root, capsysbinary, monkeypatch)
    records = list(Store(root).iter_runs(texts=True))
    assert all(r.rendered is not None for r in records)
    whole = listing.runs_json(records)
    capsysbinary.readouterr()
    print_json([r.to_dict() for r in records])
    expected = capsysbinary.readouterr().out
    assert whole is not None and bytes(whole) + b"\n" == expected
    os.truncate(index.rows_path(root), 300)
    assert listing.runs_json(records) is None
    listing.print_runs(records, keys=None, sort=[], spark=None, fmt="json", crop="middle")
    assert capsysbinary.readouterr().out == expected
    records[0].rendered[0].close()
    assert listing.runs_json(records) is None  # (closed: each run is encoded afresh)


def _zero(path: Path, start: int, count: int) -> None:
    data = bytearray(path.read_bytes())
    data[start:start + count] = bytes(count)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["a text's end", "the last texts", "inside a text", "the offsets"])
def test_zeros_where_a_text_or_offset_was_are_never_printed(root, capsysbinary, monkeypatch, where):
    """A rows file of the right size with blocks that were never written (a power cut after
    the rename): what it gives is a run's whole text or nothing, and it is written again."""
    store = Store(root)
    for i in range(3):
        record_run(store, config={"i": i})
    age(root)
    expected = json_listing(root, capsysbinary, monkeypatch)
    path = index.rows_path(root)
    texts_at = path.read_bytes().index(b"\n") + 1 + 8 * 7
    if where == "a text's end":
        _zero(path, path.stat().st_size - 17, 1)  # (the last '}', before the offsets' digest)
    elif where == "the last texts":
        _zero(path, path.stat().st_size - 216, 200)
    elif where == "inside a text":
        _zero(path, texts_at + 40, 8)
    else:
        _zero(path, texts_at - 8 * 6, 8 * 5)  # (all but the first and last: they still climb)
    calls = rendered(monkeypatch)
    assert json_listing(root, capsysbinary, monkeypatch) == expected
    if where == "the offsets":
        assert len(calls) == 3  # (not this index's: written again alone)
    else:
        assert calls == [] and not path.exists()  # (used, found wrong, removed)
        assert json_listing(root, capsysbinary, monkeypatch) == expected and len(calls) == 3
    encodes = encoded(monkeypatch)
    assert json_listing(root, capsysbinary, monkeypatch) == expected and encodes == []


def test_a_rows_file_replaced_meanwhile_is_not_removed_for_the_old_one_s_fault(root, capsysbinary,
                                                                               monkeypatch):
    store = Store(root)
    record_run(store)
    age(root)
    json_listing(root, capsysbinary, monkeypatch)
    path = index.rows_path(root)
    texts = rowtext.load(path, json.loads(path.read_bytes().split(b"\n", 1)[0]))
    assert texts is not None
    shutil.copy(path, path.with_name("copy"))
    os.replace(path.with_name("copy"), path)
    texts.discard()
    assert path.exists()
    texts = rowtext.load(path, json.loads(path.read_bytes().split(b"\n", 1)[0]))
    assert texts is not None
    texts.discard()
    assert not path.exists()


def test_a_first_build_by_a_table_listing_renders_no_text(root, monkeypatch):
    store = Store(root)
    for i in range(3):
        record_run(store, config={"i": i})
    age(root)
    calls = rendered(monkeypatch)
    run_main("runs", "ls", "--dir", str(root))
    assert calls == [] and index.columns_path(root).exists() and not index.rows_path(root).exists()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")
def test_a_json_listing_run_by_a_caller_leaves_no_descriptor_open(root, capsysbinary, monkeypatch):
    store = Store(root)
    for i in range(3):
        record_run(store, config={"i": i})
    age(root)
    json_listing(root, capsysbinary, monkeypatch)
    before = len(os.listdir("/proc/self/fd"))
    for args in ([], ["--filter", "config.i > 5"], ["--limit", "1"]):
        json_listing(root, capsysbinary, monkeypatch, args=args)
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_rows_file_that_cannot_be_written_leaves_the_index_alone(root, capsysbinary, monkeypatch):
    store = Store(root)
    for i in range(3):
        record_run(store, config={"i": i})
    age(root)
    expected = json_listing(root, capsysbinary, monkeypatch, texts=False)
    index.rows_path(root).unlink(missing_ok=True)
    index_files = written(root)

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rowtext, "write", disk_full)
    for _ in range(2):
        assert json_listing(root, capsysbinary, monkeypatch) == expected
        assert written(root) == index_files and not index.rows_path(root).exists()
    assert [p.name for p in index.rows_path(root).parent.iterdir() if ".tmp-" in p.name] == []


def test_a_table_listing_neither_opens_nor_renders_the_texts_but_keeps_them_up_to_date(
        root, capsysbinary, monkeypatch):
    store = Store(root)
    ids = [record_run(store, config={"i": i}) for i in range(4)]
    age(root)
    json_listing(root, capsysbinary, monkeypatch)
    loads, calls = [], rendered(monkeypatch)
    real_load = rowtext.load
    monkeypatch.setattr(rowtext, "load", lambda *a: loads.append(a) or real_load(*a))
    run_main("runs", "ls", "--dir", str(root))
    assert loads == [] and calls == []
    new = record_run(store, config={"i": 9})
    age(root, new)
    run_main("runs", "ls", "--dir", str(root))  # (a rewrite: the old texts copied, the new one made)
    assert calls == [new] and len(loads) == 1
    index.rows_path(root).unlink()
    later = record_run(store, config={"i": 10})
    age(root, later)
    run_main("runs", "ls", "--dir", str(root))  # (no rows file to copy from: none made)
    assert calls == [new] and not index.rows_path(root).exists()
    calls.clear()
    out = json_listing(root, capsysbinary, monkeypatch)  # (written alone, every text made)
    assert sorted(calls) == sorted([*ids, new, later])
    assert out == json_listing(root, capsysbinary, monkeypatch, texts=False)


def test_texts_rendered_another_way_are_not_used(root, capsysbinary, monkeypatch):
    """TZ=right/... spells times counting leap seconds (model._POSIX_UTC false): a rows file
    written under other rules (or by another wbrun or orjson) is rendered again."""
    store = Store(root)
    ids = [record_run(store, config={"i": i}) for i in range(3)]
    age(root)
    json_listing(root, capsysbinary, monkeypatch)
    from wandb_cli.store import model

    monkeypatch.setattr(model, "_POSIX_UTC", False)
    monkeypatch.setattr(model, "iso", lambda ts: None if ts is None else f"<{ts}>")
    layout.render_fingerprint.cache_clear()
    try:
        calls = rendered(monkeypatch)
        out = json_listing(root, capsysbinary, monkeypatch)
        assert b'"created": "<' in out
        assert sorted(calls) == sorted(["sample01", *ids])  # (the sample: the rules' digest)
        assert out == json_listing(root, capsysbinary, monkeypatch, texts=False)
    finally:
        layout.render_fingerprint.cache_clear()


def test_a_run_whose_text_cannot_be_rendered_does_not_stop_other_listings(
        root, capsysbinary, monkeypatch):
    deep: dict = {"leaf": 1}
    for _ in range(260):  # (past orjson's depth: its text cannot be made, the run is cached)
        deep = {"a": deep}
    store = Store(root)
    ids = [record_run(store, config={"i": i, **({"deep": deep} if i == 1 else {})}) for i in range(3)]
    age(root)
    calls = rendered(monkeypatch)
    real = layout.render_entry
    failed = []
    monkeypatch.setattr(layout, "render_entry", lambda entry: real(entry) or failed.append(entry[0][0]))
    json_listing(root, capsysbinary, monkeypatch, args=["--filter", "config.i != 1"])
    assert sorted(calls) == sorted(ids) and index.rows_path(root).exists()
    assert failed == [ids[1]]  # (the one run whose text could not be made)
    new = record_run(store, config={"i": 3})
    age(root, new)
    for fmt in ("table", "ids", "table"):  # (the first a rewrite: the new run's text made)
        capsysbinary.readouterr()
        run_main("runs", "ls", "--format", fmt, "--dir", str(root))
        out = capsysbinary.readouterr()
        assert all(run_id.encode() in out.out for run_id in [*ids, new]), out
    assert sorted(calls) == sorted([*ids, new])


def test_the_real_program_prints_the_texts_it_finds(root, capsysbinary, monkeypatch):
    """The texts are what `wbrun runs ls --format json` prints: one changed in the file in
    place (same length) shows in the output."""
    store = Store(root)
    record_run(store, id="seenrun1", name="original-name-1")
    age(root)
    json_listing(root, capsysbinary, monkeypatch)
    path = index.rows_path(root)
    path.write_bytes(path.read_bytes().replace(b'"original-name-1"', b'"tampered-name-1"'))
    out = subprocess.run([sys.executable, "-m", "wandb_cli", "runs", "ls", "--format", "json",
                          "--dir", str(root)], check=True, capture_output=True).stdout
    assert b'"tampered-name-1"' in out and b"original" not in out


def test_a_missing_rows_file_is_written_alone_while_a_run_is_too_recent_to_cache(
        root, capsysbinary, monkeypatch):
    """A run changed within the racy window is read afresh at each listing; the index need not
    be written again for it, and a missing rows file is still written alone."""
    monkeypatch.setattr(index, "RACY_NS", 86_400 * 10 ** 9)  # (a day: an hour-old run is recent)
    store = Store(root)
    ids = [record_run(store, config={"i": i}) for i in range(3)]
    old = time.time() - 2 * 86_400
    for run_id in ids:
        os.utime(Path(store.find(run_id).dir) / "files", (old, old))
    recent = record_run(store, config={"i": 9})
    age(root, recent)
    json_listing(root, capsysbinary, monkeypatch)
    json_listing(root, capsysbinary, monkeypatch)  # (the trailer now names the recent run)
    index.rows_path(root).unlink()
    calls, index_files = rendered(monkeypatch), written(root)
    out = json_listing(root, capsysbinary, monkeypatch)
    assert written(root) == index_files and sorted(calls) == sorted(ids)
    assert out == json_listing(root, capsysbinary, monkeypatch, texts=False)
    assert index.rows_path(root).exists()
