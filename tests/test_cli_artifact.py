"""`wbrun artifact ...` and the SDK's log_artifact/use_artifact, as real processes: versions,
verification, lineage across wrapped runs, deleting a producer, help and errors."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import python_script

from wandb_cli.store.layout import Store
from wandb_cli.store.lifecycle import delete_run

PY = sys.executable
NAMES = Path(".wbrun") / "artifacts" / "names"


def make_data(folder: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    return folder


def show_json(wbrun, ref: str) -> dict:
    return json.loads(wbrun("artifact", "show", ref, "--format", "json", check_code=0).stdout)


def tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def data() -> Path:
    return make_data(Path("data"), {"train.csv": "x,y\n1,2\n", "sub/labels.txt": "cat\n"})


def test_unchanged_folder_is_one_version_and_a_change_makes_another(wbrun, data, store_dir) -> None:
    first = wbrun("artifact", "log", "data", "--name", "mnist", "--type", "dataset", check_code=0)
    assert first.stdout == "logged artifact mnist:v0 (2 files, 12 B)\n"
    again = wbrun("artifact", "log", "data", "--name", "mnist", "--type", "dataset", check_code=0)
    assert again.stdout == ("artifact mnist: identical content is already mnist:v0; "
                            "nothing new stored\n")
    (data / "train.csv").write_text("x,y\n1,3\n")
    changed = wbrun("artifact", "log", "data", "--name", "mnist", "--alias", "best",
                    "--format", "json", check_code=0)
    made = json.loads(changed.stdout)
    assert (made["ref"], made["new"], made["aliases"]) == ("mnist:v1", True, ["latest", "best"])
    assert made["producer_run"] is None  # logged outside any run
    listed = json.loads(wbrun("artifact", "ls", "--format", "json", check_code=0).stdout)
    assert [(a["name"], a["versions"], a["aliases"]) for a in listed] == [("mnist", [0, 1], {"best": 1})]
    table = wbrun("artifact", "ls", check_code=0).stdout
    assert re.search(r"mnist\s+dataset\s+2\s+v1\s+best:v1\s+12 B", table), table


def test_get_verifies_digests_and_refuses_a_tampered_blob(wbrun, data, store_dir) -> None:
    made = json.loads(wbrun("artifact", "log", "data", "--name", "d", "--format", "json",
                            check_code=0).stdout)
    got = wbrun("artifact", "get", "d:v0", "--root", "copy", check_code=0)
    assert got.stdout == "got d:v0 into copy (2 files, 12 B, verified)\n"
    assert tree(Path("copy")) == tree(data)
    wbrun("artifact", "get", "d", check_code=0)  # default folder ./artifacts/NAME:vK
    assert tree(Path("artifacts/d:v0")) == tree(data)
    digest = next(f["digest"] for f in made["files"] if f["path"] == "train.csv")
    blob = store_dir / ".wbrun" / "artifacts" / "blobs" / digest[:2] / digest[2:]
    os.chmod(blob, 0o644)
    blob.write_text("x,y\n6,6\n")  # same size, other content
    bad = wbrun("artifact", "get", "d:v0", "--root", "again")
    assert bad.returncode == 1, bad.stderr
    assert "does not match its digest" in bad.stderr and "Traceback" not in bad.stderr
    assert not (Path("again") / "train.csv").exists()


LOG_IN_RUN = 'exec "$PY" -m wandb_cli artifact log data --name d --type dataset'
GET_IN_RUN = 'exec "$PY" -m wandb_cli artifact get d:v0 --root "got-$WBRUN_RUN_ID"'
SDK_USE = """
import wandb_cli as wandb
run = wandb.init()
artifact = run.use_artifact("d:latest", type="dataset")
print("path=" + artifact.download(), "name=" + artifact.name, "version=" + artifact.version)
"""


def run_ids(runs_json) -> list[str]:
    return [r["id"] for r in sorted(runs_json(), key=lambda r: r["created"])]


def test_lineage_of_producer_and_consumers(wbrun, runs_json, data, tmp_path, store_dir) -> None:
    logged = wbrun("-q", "--", "bash", "-c", LOG_IN_RUN, env={"PY": PY}, check_code=0)
    assert "logged artifact d:v0" in logged.stdout
    wbrun("-q", "--", "bash", "-c", GET_IN_RUN, env={"PY": PY}, check_code=0)
    sdk = wbrun("-q", "--", PY, str(python_script(tmp_path, "use.py", SDK_USE)), check_code=0)
    producer, cli_consumer, sdk_consumer = run_ids(runs_json)
    assert f"path={Path.cwd() / 'artifacts' / 'd:v0'} name=d:v0 version=v0" in sdk.stdout
    assert tree(Path("artifacts/d:v0")) == tree(data) == tree(Path(f"got-{cli_consumer}"))
    shown = show_json(wbrun, "d:v0")
    assert shown["producer_run"] == producer
    assert shown["consumers"] == [cli_consumer, sdk_consumer]
    assert [f["path"] for f in shown["files"]] == ["sub/labels.txt", "train.csv"]
    table = wbrun("artifact", "show", "d", check_code=0).stdout
    assert re.search(rf"produced by\s+{producer} \(\S+\)", table), table
    assert f"{cli_consumer} (" in table and "train.csv" in table
    produced = json.loads(wbrun("runs", "show", producer, "-f", "json", check_code=0).stdout)
    consumed = json.loads(wbrun("runs", "show", sdk_consumer, "-f", "json", check_code=0).stdout)
    assert [a["ref"] for a in produced["artifacts"]["outputs"]] == ["d:v0"]
    assert consumed["artifacts"] == {"inputs": [{"ref": "d:v0", "type": "dataset",
                                                 "size": shown["size"]}], "outputs": []}
    assert "Artifacts: outputs" in wbrun("runs", "show", producer, check_code=0).stdout


SDK_ALONE = """
import wandb_cli as wandb
from wandb_cli.errors import WbrunError
with wandb.init(project="art") as run:
    made = run.log_artifact("data", name="d", type="dataset", aliases=["best"])
    same = run.log_artifact("data", name="d", type="dataset")
    print("made", made.name, made.new, made.aliases, "same", same.name, same.new)
    used = wandb.use_artifact("someone/proj/d:best")
    print("used", used.name, used.producer_run == run.id, sorted(used.files))
    print("dir", used.download(root="fetched"))
    try:
        run.use_artifact("d:v7")
    except WbrunError as exc:
        print("missing", exc)
"""


def test_sdk_log_and_use_artifact_alone(wbrun, runs_json, data, tmp_path) -> None:
    script = python_script(tmp_path, "alone.py", SDK_ALONE)
    done = subprocess.run([PY, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    [run] = runs_json()
    assert "made d:v0 True ['latest', 'best'] same d:v0 False" in done.stdout
    assert "used d:v0 True ['sub/labels.txt', 'train.csv']" in done.stdout
    assert "dir fetched" in done.stdout and tree(Path("fetched")) == tree(data)
    assert "missing artifact 'd' has no version 'v7' (it has v0)" in done.stdout
    assert "wbrun: logged artifact d:v0 (2 files, 12 B)" in done.stderr
    assert "identical content is already d:v0" in done.stderr
    shown = show_json(wbrun, "d:best")
    assert shown["producer_run"] == run["id"] and shown["consumers"] == [run["id"]]


def test_sdk_log_artifact_inside_a_wrapped_run_names_the_wrapped_run(wbrun, runs_json, data,
                                                                     tmp_path) -> None:
    script = python_script(tmp_path, "log.py", "import wandb_cli as wandb\n"
                           "wandb.init()\nwandb.log_artifact('data', type='dataset')\n")
    wbrun("-q", "--", PY, str(script), check_code=0)
    [run] = runs_json()
    shown = show_json(wbrun, f"run-{run['id']}-data")  # W&B's default name for a bare path
    assert shown["producer_run"] == run["id"] and shown["type"] == "dataset"


def test_deleting_the_producing_run_keeps_the_version(wbrun, runs_json, data, store_dir) -> None:
    wbrun("-q", "--", "bash", "-c", LOG_IN_RUN, env={"PY": PY}, check_code=0)
    [producer] = runs_json()
    store = Store(store_dir)
    delete_run(store, store.find(producer["id"]))
    assert runs_json() == []
    wbrun("artifact", "get", "d:v0", "--root", "after", check_code=0)
    assert tree(Path("after")) == tree(data)
    assert f"{producer['id']} (deleted)" in wbrun("artifact", "show", "d:v0", check_code=0).stdout


def test_alias_moves_between_versions(wbrun, data) -> None:
    wbrun("artifact", "log", "data", "--name", "d", check_code=0)
    (data / "new.txt").write_text("n")
    wbrun("artifact", "log", "data", "--name", "d", check_code=0)
    assert wbrun("artifact", "alias", "d:v0", "prod", check_code=0).stdout == "d:prod now names d:v0\n"
    moved = json.loads(wbrun("artifact", "alias", "d:v1", "prod", "--format", "json",
                             check_code=0).stdout)
    assert moved["aliases"] == ["latest", "prod"]
    assert show_json(wbrun, "d:prod")["version"] == 1
    assert show_json(wbrun, "d:v0")["aliases"] == []


ERRORS = [
    (["artifact", "get", "nope"], 1, "no artifact named 'nope'"),
    (["artifact", "show", "d:v9"], 1, "has no version 'v9'"),
    (["artifact", "show", "d:gold"], 1, "has no alias 'gold'"),
    (["artifact", "log", "missing-folder", "--name", "x"], 2, "no such file or folder"),
    (["artifact", "log", "data", "--name", "a/b"], 2, "bad artifact name"),
    (["artifact", "log", "data", "--name", "d", "--type", "model"], 2, "has type 'dataset'"),
    (["artifact", "alias", "d:v0", "latest"], 2, "'latest' always names the newest"),
    (["artifact", "ls", "--format", "xml"], 2, "bad --format"),
]


def test_errors_are_one_line_with_the_right_exit_code(wbrun, data) -> None:
    wbrun("artifact", "log", "data", "--name", "d", check_code=0)
    for args, code, message in ERRORS:  # one store for all: each case is one process
        result = wbrun(*args)
        assert result.returncode == code, (args, result.stderr)
        assert result.stderr.startswith("wbrun: error: ") and message in result.stderr, args
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, args


@pytest.mark.parametrize("created", [1e20, -1e13])
def test_a_manifest_time_no_date_can_spell_is_a_one_line_error(wbrun, data, store_dir, created) -> None:
    wbrun("artifact", "log", "data", "--name", "d", check_code=0)
    manifest = store_dir / NAMES / "d" / "v0.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "created": created}))
    problem = f"d:v0: malformed manifest (created {created!r} is not a time from year 1 to 9999)"
    for args in (["artifact", "show", "d"], ["artifact", "show", "d", "--format", "json"],
                 ["artifact", "get", "d"]):
        result = wbrun(*args)
        assert result.returncode != 0 and result.stderr == f"wbrun: error: {problem}\n", (args, result.stderr)
    listed = wbrun("artifact", "ls", check_code=0)
    assert listed.stderr == f"wbrun: warning: {problem}; left out\n"


def test_one_damaged_artifact_does_not_hide_the_others_nor_any_run(wbrun, data, store_dir) -> None:
    """`artifact ls` lists the others and `runs show` shows every run, each with a warning
    naming the damaged version (which cannot say which runs it belongs to)."""
    wbrun("-q", "--id", "maker001", "--", PY, "-m", "wandb_cli", "artifact", "log", "data",
          "--name", "good", check_code=0)
    wbrun("artifact", "log", "data/sub", "--name", "bad", check_code=0)
    (store_dir / NAMES / "bad" / "v0.json").write_text('{"name": "bad", "version": 0}')
    for fmt in ("table", "json"):
        listed = wbrun("artifact", "ls", "--format", fmt, check_code=0)
        assert "good" in listed.stdout and "bad" not in listed.stdout
        assert listed.stderr.startswith("wbrun: warning: bad:v0: malformed manifest (KeyError(")
        assert listed.stderr.endswith("; left out\n") and listed.stderr.count("\n") == 1
    assert [a["name"] for a in json.loads(wbrun("artifact", "ls", "--format", "json").stdout)] == ["good"]
    shown = wbrun("runs", "show", "maker001", "--format", "json", check_code=0)
    lineage = json.loads(shown.stdout)["artifacts"]
    assert [a["ref"] for a in lineage["outputs"]] == ["good:v0"]
    assert [p.split(":")[0] for p in lineage["unreadable"]] == ["bad"]
    assert shown.stderr.startswith("wbrun: warning: bad:v0: malformed manifest")
    table = wbrun("runs", "show", "maker001", check_code=0)
    assert "good:v0" in table.stdout and "bad:v0" in table.stderr
    (store_dir / NAMES / "bad" / "aliases.json").write_text("[1, 2")  # (the name's own documents)
    for listed in (wbrun("artifact", "ls", check_code=0), wbrun("runs", "show", "maker001", check_code=0)):
        assert "good" in listed.stdout and listed.stderr.count("\n") == 1
        assert re.fullmatch(r"wbrun: warning: artifact store: .+aliases\.json is not valid JSON .*; left out\n",
                            listed.stderr), listed.stderr


@pytest.mark.parametrize("damage", [
    ("aliases.json", '{"best": "v0"}', "does not map each alias to a version number"),
    ("consumers.json", '{"0": 5}', "does not map each version to a list of run IDs"),
    ("consumers.json", '{"0": "abc"}', "does not map each version to a list of run IDs"),
    ("v0.json", None, "Is a directory"),  # (a manifest that cannot be read at all)
    ("v0.json", "hostile name", "the manifest names bad\\x1b]0;pwned\\x07\\nwbrun: fake:v0"),
])
def test_a_name_s_documents_of_the_wrong_shape_are_left_out_in_one_escaped_line(
        wbrun, data, store_dir, damage) -> None:
    file, content, message = damage
    wbrun("-q", "--id", "maker002", "--", PY, "-m", "wandb_cli", "artifact", "log", "data",
          "--name", "good", check_code=0)
    wbrun("artifact", "log", "data/sub", "--name", "bad", check_code=0)
    path = store_dir / NAMES / "bad" / file
    if content is None:
        path.unlink()
        path.mkdir()
    elif content == "hostile name":  # (a whole manifest, its digest right, naming another)
        manifest = json.loads(path.read_text())
        path.write_text(json.dumps({**manifest, "name": "bad\x1b]0;pwned\x07\nwbrun: fake"}))
    else:
        path.write_text(content)
    for args in (["artifact", "ls"], ["runs", "show", "maker002"]):
        result = wbrun(*args, check_code=0)
        assert "good" in result.stdout, (args, result.stderr)
        assert result.stderr.startswith("wbrun: warning: ") and message in result.stderr, result.stderr
        assert result.stderr.endswith("; left out\n") and result.stderr.count("\n") == 1
        assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    failed = wbrun("artifact", "show", "bad")
    assert failed.returncode == 1 and message in failed.stderr and failed.stderr.count("\n") == 1


@pytest.mark.parametrize("command", [
    ["artifact", "log"], ["artifact", "get"], ["artifact", "ls"], ["artifact", "show"],
    ["artifact", "alias"], ["save"], ["runs", "files"],
])
def test_every_command_has_a_summary_and_an_example(wbrun, command) -> None:
    text = wbrun(*command, "--help", check_code=0).stdout
    assert "Example: wbrun " in text
