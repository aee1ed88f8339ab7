"""`wbrun sync --to wandb` (the real W&B SDK, offline) and `wbrun import wandb`.

The `.wandb` file is decoded here with W&B's own record classes
(`wandb.proto.wandb_internal_pb2.Record`) and a framing reader of the test's own, so the
test does not check wbrun's reader with itself.
"""
from __future__ import annotations

import json
import shlex
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_sync import LOGGING_SCRIPT, history_rows, run_dir, run_wbrun, wrapped

pytestmark = pytest.mark.slow

pytest.importorskip("wandb.proto.wandb_internal_pb2")


def decode(path: Path) -> list:
    """Records of a W&B transaction log: 7-byte header, 32 KiB blocks of chunks."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, pending, records = 7, b"", []
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:
            pos += 32768 - pos % 32768
            continue
        _crc, length, kind = struct.unpack_from("<IHB", data, pos)
        if kind == 0:
            break
        piece, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        pending += piece
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def by_type(records: list, kind: str) -> list:
    return [getattr(r, kind) for r in records if r.WhichOneof("record_type") == kind]


def test_export_decoded_with_wandb_records_then_imported_equal(store_dir, tmp_path):
    wrapped("-p", "exp", "-e", "team", "--id", "wb1", "-n", "exported", "-g", "grp", "-j", "train",
            "-t", "t1", "--notes", "note", "-c", "lr=0.01", "-c", "arch={\"layers\": 4}",
            "--no-system", script=LOGGING_SCRIPT)
    out = tmp_path / "export"
    result = run_wbrun("sync", "--to", "wandb", "wb1", "--out", str(out))
    assert f"upload with: wandb sync {out}/wandb/offline-run-*" in result.stdout
    [wandb_file] = list(out.glob("wandb/offline-run-*-wb1/run-wb1.wandb"))
    records = decode(wandb_file)

    [run] = by_type(records, "run")
    assert (run.run_id, run.display_name, run.project, run.entity, run.run_group, run.job_type,
            run.notes, list(run.tags)) == ("wb1", "exported", "exp", "team", "grp", "train", "note", ["t1"])
    config = {item.key or item.nested_key[0]: json.loads(item.value_json) for item in run.config.update}
    assert config["lr"] == 0.01 and config["arch"] == {"layers": 4}
    original = history_rows(store_dir, "wb1")
    exported = [{(i.key or ".".join(i.nested_key)): json.loads(i.value_json) for i in h.item}
                for h in by_type(records, "history")]
    assert [(r["_step"], r["_timestamp"], r["loss"]) for r in exported] == [
        (r["_step"], r["_timestamp"], r["loss"]) for r in original]
    assert [r["nested.x"] if "nested.x" in r else r["nested"]["x"] for r in exported] == [0, 1, 2, 3, 4]
    summary = {}
    for update in by_type(records, "summary"):
        for item in update.update:
            summary[item.key or ".".join(item.nested_key)] = json.loads(item.value_json)
    assert summary["best_acc"] == 0.875 and summary["loss"] == 0.2
    files = {f.path for record in by_type(records, "files") for f in record.files}
    assert {"result.txt", "output.log"} <= files
    assert (wandb_file.parent / "files" / "result.txt").read_text() == "result"
    assert by_type(records, "exit")[0].exit_code == 0

    again = run_wbrun("sync", "--to", "wandb", "wb1", "--out", str(out))
    assert "exported before" in again.stdout
    assert len(list(out.glob("wandb/offline-run-*"))) == 1

    other = tmp_path / "other"
    first = run_wbrun("import", "wandb", str(wandb_file.parent), env={"WBRUN_DIR": str(other)})
    assert first.stdout.strip().endswith("-> wb1")
    second = run_wbrun("import", "wandb", str(wandb_file), env={"WBRUN_DIR": str(other)})
    assert "imported before as wb1: nothing new" in second.stdout
    assert len(list(other.glob("run-*"))) == 1
    from wandb_cli.store.layout import Store

    back = Store(other).read(run_dir(other, "wb1"))
    mine = Store(store_dir).read(run_dir(store_dir, "wb1"))
    for field in ("id", "name", "project", "entity", "group", "job_type", "tags", "notes", "config",
                  "summary", "state", "created", "ended", "exit_code", "host", "command"):
        assert getattr(back, field) == getattr(mine, field), field
    rows_back = history_rows(other, "wb1")
    assert len(rows_back) == len(original)
    for got, want in zip(rows_back, original):
        assert {k: v for k, v in got.items() if k != "_runtime"} == {
            k: v for k, v in want.items() if k != "_runtime"}
        # W&B keeps no `_runtime` of ours: the import derives it from the row's own wall time
        # (wbrun measured the original on the monotonic clock, which can differ by a few ms)
        assert abs(got["_runtime"] - (want["_timestamp"] - mine.created)) <= 0.0011
    assert (run_dir(other, "wb1") / "files" / "result.txt").read_text() == "result"
    shown = run_wbrun("runs", "show", "wb1", env={"WBRUN_DIR": str(other)}).stdout
    assert "imported from" in shown and "wandb:" in shown
    doc = json.loads((run_dir(other, "wb1") / "files" / "wbrun-run.json").read_text())
    assert doc["imported"] == {**doc["imported"], "from": "wandb", "source_id": "wb1",
                               "source": str(wandb_file.resolve())}


def test_summary_set_after_the_last_log_survives_export_and_import(store_dir, tmp_path):
    """W&B holds a row logged with an explicit step until the next step; were the summary
    written before that row, the row's loss (0.2) would end up over the summary's 0.001."""
    wrapped("-p", "exp", "--id", "late1", "--no-system", script=(
        "import wandb_cli as wandb\nrun = wandb.init()\n"
        "for i in range(5): run.log({'loss': 1 / (i + 1)})\n"
        "run.summary['loss'] = 0.001\n"))
    from wandb_cli.store.layout import Store

    mine = Store(store_dir).read(run_dir(store_dir, "late1"))
    assert mine.summary["loss"] == 0.001
    out, other = tmp_path / "export", tmp_path / "other"
    run_wbrun("sync", "--to", "wandb", "late1", "--out", str(out))
    [folder] = list(out.glob("wandb/offline-run-*-late1"))
    run_wbrun("import", "wandb", str(folder), env={"WBRUN_DIR": str(other)})
    back = Store(other).read(run_dir(other, "late1"))
    assert back.summary == mine.summary
    assert [row["loss"] for row in history_rows(other, "late1")] == [1, 0.5, 1 / 3, 0.25, 0.2]


def test_upload_hint_is_a_command_the_installed_wandb_accepts(store_dir, tmp_path):
    """The printed `wandb sync` line, run by the real wandb CLI with --dry-run (which lists
    what it would upload and stops before any login or network), finds the export."""
    wrapped("-p", "exp", "--id", "hint1", "--no-system", script="print('loss=1')")
    out = tmp_path / "export dir"  # a space: the hint quotes the folder for the shell
    result = run_wbrun("sync", "--to", "wandb", "hint1", "--out", str(out))
    [hint] = [line for line in result.stdout.splitlines() if line.startswith("upload with: ")]
    command = hint.removeprefix("upload with: ")
    assert command.startswith("wandb sync ")
    python_m_wandb = f"{shlex.quote(sys.executable)} -m wandb{command.removeprefix('wandb')}"
    dry = subprocess.run(["bash", "-c", f"{python_m_wandb} --dry-run"], capture_output=True,
                         text=True, timeout=120)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "Would sync 1 run(s)" in dry.stdout + dry.stderr, dry.stdout + dry.stderr
    assert "offline-run-" in dry.stdout + dry.stderr


def test_import_keeps_a_taken_id_apart(store_dir, tmp_path):
    wrapped("-p", "exp", "--id", "same1", "--no-system", script="print('loss=1')")
    out = tmp_path / "export"
    run_wbrun("sync", "--to", "wandb", "same1", "--out", str(out))
    [wandb_file] = list(out.glob("wandb/offline-run-*/run-same1.wandb"))
    result = run_wbrun("import", "wandb", str(wandb_file))  # into the store that has same1
    assert "ID same1 is taken in this store: new ID" in result.stdout
    new_id = result.stdout.split("-> ")[1].split()[0]
    assert new_id != "same1" and len(list(store_dir.glob("run-*"))) == 2
    assert history_rows(store_dir, new_id)[0]["loss"] == 1


BLOCKER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError("No module named " + repr(name))
sys.meta_path.insert(0, Block())
from wandb_cli.cli import main
sys.argv = ["wbrun", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize("args, extra", [
    (["sync", "--to", "wandb", "--all"], "wandb"),
    (["sync", "--to", "mlflow", "http://127.0.0.1:9", "--all"], "mlflow"),
    (["import", "mlflow", "http://127.0.0.1:9"], "mlflow"),
    (["import", "wandb", "x.wandb"], "wandb"),
])
def test_without_the_extra_says_which_to_install(store_dir, tmp_path, args, extra):
    wrapped("--id", "r1", "--no-system", script="pass")
    (tmp_path / "work").mkdir(exist_ok=True)
    Path("x.wandb").write_bytes(b":W&B\xe1\xbe\x00")
    result = subprocess.run([sys.executable, "-c", BLOCKER.format(blocked={extra}), *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert f"pip install 'wbrun[{extra}]'" in result.stderr


def test_a_run_resumed_after_its_export_is_exported_again_whole(store_dir, tmp_path):
    """New steps after the first export: the run is exported again as a whole new offline
    run and the earlier one moved out of OUT/wandb/, so `wandb sync OUT/wandb/offline-run-*`
    finds one offline run of that ID, holding every step."""
    wrapped("-p", "exp", "--id", "grow1", "--no-system", script=LOGGING_SCRIPT)
    out, other = tmp_path / "export", tmp_path / "other"
    run_wbrun("sync", "--to", "wandb", "grow1", "--out", str(out))
    [first] = list(out.glob("wandb/offline-run-*-grow1"))
    run_wbrun("--id", "grow1", "--resume", "allow", "-q", "--no-system", "--", sys.executable, "-c",
              "import wandb_cli as w\nr = w.init()\nfor i in range(3): r.log({'loss': 0.1 / (i + 1)})\n")
    assert len(history_rows(store_dir, "grow1")) == 8
    again = run_wbrun("sync", "--to", "wandb", "grow1", "--out", str(out))
    assert "unchanged" not in again.stdout and "changed since its export" in again.stdout, again.stdout
    assert "upload with: wandb sync" in again.stdout
    [folder] = list(out.glob("wandb/offline-run-*-grow1"))
    assert (out / "replaced" / first.name / "run-grow1.wandb").exists()
    run_wbrun("import", "wandb", str(folder), env={"WBRUN_DIR": str(other)})
    def steps(store):  # (_runtime is the SDK's own, docs/sync.md)
        return [(row["_step"], row["_timestamp"], row["loss"]) for row in history_rows(store, "grow1")]

    assert steps(other) == steps(store_dir) and len(steps(other)) == 8
    third = run_wbrun("sync", "--to", "wandb", "grow1", "--out", str(out))
    assert f"grow1 -> {folder}: exported before, unchanged" in third.stdout, third.stdout
