"""`runs ls --format json` from the index's rows file: the same bytes as encoding each run, never a
text of another index or of a run as it was."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
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


def json_listing(root: Path, capsysbinary, monkeypatch, *, texts: bool = True, args=()) -> bytes:
    """`runs ls --format json` in this process; without `texts`, as print_json writes it from
    each run's to_dict() (the rows file neither read nor written)."""
    with monkeypatch.context() as patch:
        if not texts:
            patch.setattr(listing, "runs_json", lambda rows: None)
            patch.setattr(rowtext, "load", lambda *a: None)
            patch.setattr(index._Writer, "_write_rows", lambda *a: None)
        capsysbinary.readouterr()
        try:
            main(["runs", "ls", "--format", "json", "--dir", str(root), *args])
        except SystemExit as stop:
            assert stop.code in (0, None)
        return capsysbinary.readouterr().out


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


def test_the_rows_file_gives_print_json_s_bytes_and_spares_encoding_the_runs(
        root, capsysbinary, monkeypatch):
    varied_runs(root)
    expected = json_listing(root, capsysbinary, monkeypatch, texts=False)
    assert expected.count(b'"id"') == 5
    index.rows_path(root).unlink()
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
def test_a_rows_file_that_does_not_belong_is_not_used_and_written_again(
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
    out = json_listing(root, capsysbinary, monkeypatch)
    assert out == json_listing(root, capsysbinary, monkeypatch, texts=False)
    assert len(calls) == out.count(b'"id"')  # every text rendered again, none taken from it
    first = path.read_bytes().split(b"\n", 1)[0]
    assert rowtext.load(path, json.loads(first)) is not None
    calls.clear()
    encodes = encoded(monkeypatch)
    assert json_listing(root, capsysbinary, monkeypatch) == out
    assert calls == [] and encodes == []


def test_a_rows_file_cut_short_once_open_gives_the_runs_encoded(root, capsysbinary, monkeypatch):
    """Nothing wbrun does truncates it in place (it is replaced whole); whatever else does,
    a listing that has it open writes what print_json would, not a cut text."""
    store = Store(root)
    for i in range(3):
        record_run(store, config={"i": i})
    age(root)
    json_listing(root, capsysbinary, monkeypatch)
    records = list(Store(root).iter_runs())
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
