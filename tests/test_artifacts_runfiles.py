"""Saving files into runs: layout, refusals, atomic copies, the live/end saver, `runs files`,
on real files and with real `wbrun` and SDK processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import python_script

from wandb_cli.artifacts import runfiles as files
from wandb_cli.errors import UsageError

PY = sys.executable


@pytest.fixture
def run_dir(store_dir: Path) -> Path:
    """A bare run folder inside the store (the store lies inside the working directory)."""
    folder = store_dir / "run-20240101_000000-abcd1234"
    (folder / "files").mkdir(parents=True)
    return folder


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def saved(run_dir: Path) -> dict[str, str]:
    """Saved files (not wbrun's own documents) by path under files/, with their content."""
    return {f.path: (run_dir / "files" / f.path).read_text()
            for f in files.list_run_files(run_dir) if not f.own}


def save(run_dir: Path, *patterns: str, policy: str = "now", base_path=None) -> list:
    return files.save(run_dir, list(patterns), policy=policy, base_path=base_path, cwd=Path.cwd())


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# --- the core: layout and refusals ------------------------------------------------------------
def test_save_now_keeps_the_relative_layout(run_dir: Path) -> None:
    write(Path("model.txt"), "weights")
    write(Path("logs/train/a.log"), "step 1")
    result = save(run_dir, "model.txt", "logs/train/a.log")
    assert [s.files for s in result] == [["model.txt"], ["logs/train/a.log"]]
    assert saved(run_dir) == {"model.txt": "weights", "logs/train/a.log": "step 1"}


def test_folders_globs_and_base_path(run_dir: Path, tmp_path: Path) -> None:
    write(Path("ckpt/e1.pt"), "1")
    write(Path("ckpt/deep/e2.pt"), "2")
    write(Path("notes.md"), "n")
    write(tmp_path / "elsewhere/out/result.json", "{}")
    save(run_dir, "ckpt")
    save(run_dir, "*.md")
    save(run_dir, str(tmp_path / "elsewhere/out/result.json"), base_path=tmp_path / "elsewhere")
    assert saved(run_dir) == {"ckpt/e1.pt": "1", "ckpt/deep/e2.pt": "2", "notes.md": "n",
                              "out/result.json": "{}"}


def test_an_absolute_path_inside_the_current_directory_is_relative_to_it(run_dir: Path) -> None:
    write(Path("sub/x.txt"), "x")
    save(run_dir, str(Path.cwd() / "sub/x.txt"))
    assert saved(run_dir) == {"sub/x.txt": "x"}


@pytest.mark.parametrize("make, pattern, why", [
    (lambda t: write(t / "outside.txt", "o"), "../outside.txt", "outside the current directory"),
    (lambda t: write(t / "outside.txt", "o"), "sub/../../outside.txt", "outside the current directory"),
    (lambda t: write(t / "outside.txt", "o"), "{tmp}/outside.txt", "outside the current directory"),
    (lambda t: os.symlink(write(t / "outside.txt", "o"), "link.txt"), "link.txt", "is a link to"),
    (lambda t: os.symlink(t / "secret", "data"), "data/key.pem", "is a link to"),
    (lambda t: write(Path("config.json"), "{}"), "config.json", "wbrun's own documents"),
    (lambda t: None, "output.log", "wbrun's own documents"),
    (lambda t: None, "wandb-summary.json", "wbrun's own documents"),
    (lambda t: None, "wandb-custom.jsonl", "wbrun's own documents"),
    (lambda t: None, "wbrun-run.json", "wbrun's own documents"),
    (lambda t: write(Path("wandb/other.txt"), "s"), "wandb/other.txt", "inside the wbrun store"),
])
@pytest.mark.parametrize("policy", ["now", "live", "end"])
def test_paths_that_would_escape_or_clobber_are_refused(
        run_dir: Path, tmp_path: Path, make, pattern: str, why: str, policy: str) -> None:
    write(tmp_path / "secret/key.pem", "k")
    write(Path("fine.txt"), "f")
    make(tmp_path)
    with pytest.raises(UsageError, match=why):
        save(run_dir, "fine.txt", pattern.format(tmp=tmp_path), policy=policy)
    assert saved(run_dir) == {}  # checked before anything is copied
    assert not (run_dir / files.REQUESTS).exists()


def test_a_link_inside_files_cannot_carry_a_copy_out(run_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "victim"
    outside.mkdir()
    os.symlink(outside, run_dir / "files" / "out")
    write(Path("out/x.txt"), "x")
    with pytest.raises(UsageError, match="a link inside the run's files/ folder"):
        save(run_dir, "out/x.txt")
    assert list(outside.iterdir()) == []


def test_globs_and_folders_skip_the_store_inside_the_current_directory(run_dir: Path) -> None:
    write(run_dir / "files" / "wbrun-run.json", "{}")
    write(Path("a.txt"), "a")
    save(run_dir, "**/*.txt")
    with pytest.raises(UsageError, match="no file matches"):  # only the store's documents match
        save(run_dir, "**/*.json")
    assert saved(run_dir) == {"a.txt": "a"}


def test_save_now_of_nothing_is_refused_but_live_and_end_wait(run_dir: Path) -> None:
    with pytest.raises(UsageError, match="no file matches 'later.txt'"):
        save(run_dir, "later.txt")
    assert [s.files for s in save(run_dir, "later.txt", policy="end")] == [[]]
    requests = [json.loads(line) for line in (run_dir / files.REQUESTS).read_text().splitlines()]
    assert requests == [{"pattern": str(Path.cwd() / "later.txt"), "base": str(Path.cwd()),
                         "policy": "end"}]


def test_bad_policy_is_a_usage_error(run_dir: Path) -> None:
    with pytest.raises(UsageError, match="choose now, live or end"):
        save(run_dir, "x", policy="sometimes")


def test_a_copy_replaces_the_old_one_whole(run_dir: Path) -> None:
    source = write(Path("big.bin"), "A" * 100_000)
    save(run_dir, "big.bin")
    with open(run_dir / "files" / "big.bin") as reader:  # a reader of the first copy...
        source.write_text("B" * 50_000)
        save(run_dir, "big.bin")
        assert reader.read() == "A" * 100_000  # ...keeps a whole file: it was renamed over
    assert (run_dir / "files" / "big.bin").read_text() == "B" * 50_000
    assert [p.name for p in (run_dir / "files").iterdir()] == ["big.bin"]  # no temp left


# --- the saver: live and end ----------------------------------------------------------------
def test_saver_copies_live_files_on_each_change_and_end_files_at_stop(run_dir: Path) -> None:
    saver = files.Saver(run_dir, poll_s=0.02).start()
    target = run_dir / "files" / "progress.txt"
    write(Path("progress.txt"), "one")
    save(run_dir, "progress.txt", policy="live")
    save(run_dir, "final.txt", policy="end")
    for text in ("two, longer", "three"):
        Path("progress.txt").write_text(text)
        wait_until(lambda text=text: target.exists() and target.read_text() == text)
    write(Path("final.txt"), "done")
    time.sleep(0.1)
    assert not (run_dir / "files" / "final.txt").exists()  # "end" waits for the end
    Path("progress.txt").write_text("four")
    saver.stop()
    assert saved(run_dir) == {"progress.txt": "four", "final.txt": "done"}


def test_saver_ignores_requests_from_an_earlier_life(run_dir: Path) -> None:
    write(Path("old.txt"), "old")
    save(run_dir, "old.txt", policy="end")
    files.Saver(run_dir).stop()  # a resumed run's saver: the old request was served before
    assert saved(run_dir) == {}


def test_saver_warns_once_and_carries_on(run_dir: Path, tmp_path: Path) -> None:
    warnings: list[str] = []
    saver = files.Saver(run_dir, poll_s=0.02, warn=warnings.append).start()
    save(run_dir, "*.txt", policy="live")
    write(tmp_path / "outside.txt", "o")
    os.symlink(tmp_path / "outside.txt", "escape.txt")  # appears later, leads outside
    time.sleep(0.2)
    saver.stop()
    assert len(warnings) == 1 and "is a link to" in warnings[0]
    assert saved(run_dir) == {}


def test_list_run_files_marks_own_documents_and_skips_temp_files(run_dir: Path) -> None:
    for name in ("wbrun-run.json", "config.json", "output.log", "wandb-history.jsonl"):
        write(run_dir / "files" / name, "x")
    write(run_dir / "files" / ".tmp-w-1-0", "half")
    write(Path("sub/config.json"), "mine")
    save(run_dir, "sub/config.json")
    listed = [(f.path, f.kind, f.size) for f in files.list_run_files(run_dir)]
    assert listed == [("config.json", "wbrun", 1), ("output.log", "wbrun", 1),
                      ("wandb-history.jsonl", "wbrun", 1), ("wbrun-run.json", "wbrun", 1),
                      ("sub/config.json", "saved", 4)]


# --- real processes ---------------------------------------------------------------------------
WAIT_FOR = """
import os, subprocess, sys, time
from pathlib import Path

def wait_for(dest, text):
    deadline = time.monotonic() + 10
    while not (dest.exists() and dest.read_text() == text):
        if time.monotonic() > deadline:
            sys.exit(f"never saw {text!r} in {dest}")
        time.sleep(0.02)
"""

LIVE_CHILD = WAIT_FOR + """
dest = Path(os.environ["WBRUN_RUN_DIR"]) / "files" / "progress.txt"
wbrun = [sys.executable, "-m", "wandb_cli", "save"]
Path("progress.txt").write_text("one")
subprocess.run([*wbrun, "--policy", "live", "progress.txt"], check=True)
wait_for(dest, "one")
Path("progress.txt").write_text("two, longer")
wait_for(dest, "two, longer")
Path("progress.txt").write_text("three")
subprocess.run([*wbrun, "--policy", "end", "end.txt"], check=True)
assert not (dest.parent / "end.txt").exists()
Path("end.txt").write_text("written after the request")
Path("now.txt").write_text("now")
subprocess.run([*wbrun, "--policy", "now", "now.txt"], check=True)
assert (dest.parent / "now.txt").read_text() == "now"
"""


def test_wbrun_save_inside_a_wrapped_run(wbrun, runs_json, tmp_path: Path) -> None:
    script = python_script(tmp_path, "child.py", LIVE_CHILD)
    result = wbrun("-q", "--", PY, str(script), check_code=0)
    assert "saved progress.txt (and again whenever it changes)" in result.stdout
    assert "nothing matches 'end.txt' yet; it is saved if it exists when the run ends" in result.stdout
    run = runs_json()[0]
    assert run["state"] == "finished"
    assert saved(Path(run["dir"])) == {"progress.txt": "three", "end.txt": "written after the request",
                                       "now.txt": "now"}
    listing = json.loads(wbrun("runs", "files", run["id"], "--format", "json", check_code=0).stdout)
    kinds = {entry["path"]: entry["kind"] for entry in listing}
    assert kinds["progress.txt"] == "saved" and kinds["wbrun-run.json"] == "wbrun"
    assert all(entry["size"] >= 0 and entry["modified"] > 1.7e9 for entry in listing)
    table = wbrun("runs", "files", run["id"], check_code=0).stdout
    assert "progress.txt" in table and "saved" in table and "wbrun" in table


def test_wbrun_save_refusals_and_outside_a_run(wbrun, tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("o")
    result = wbrun("save", "x.txt")
    assert result.returncode == 2 and "not inside a run" in result.stderr
    script = ('"$PY" -m wandb_cli save ../outside.txt; echo "escape=$?"; '
              '"$PY" -m wandb_cli save --policy end wandb-summary.json; echo "own=$?"')
    result = wbrun("-q", "--no-capture", "--", "bash", "-c", script, env={"PY": PY}, check_code=0)
    assert "escape=2" in result.stdout and "own=2" in result.stdout
    assert "outside the current directory" in result.stderr and "Traceback" not in result.stderr


SDK_CHILD = WAIT_FOR + """
import wandb_cli as wandb
run = wandb.init(project="files")
dest = Path(run.dir) / "progress.txt"
Path("progress.txt").write_text("one")
assert run.save("progress.txt") == [str(dest)]  # live, as in W&B
wait_for(dest, "one")
Path("progress.txt").write_text("two, longer")
wait_for(dest, "two, longer")
Path("progress.txt").write_text("three")
run.save("end.txt", policy="end")
Path("end.txt").write_text("end")
run.finish()
"""


@pytest.mark.parametrize("wrapped", [False, True])
def test_sdk_save_alone_and_inside_a_wrapped_run(wbrun, runs_json, tmp_path: Path, wrapped) -> None:
    script = python_script(tmp_path, "train.py", SDK_CHILD)
    if wrapped:
        wbrun("-q", "--", PY, str(script), check_code=0)
    else:
        subprocess.run([PY, str(script)], check=True, capture_output=True, timeout=60)
    [run] = runs_json()
    assert run["state"] == "finished"
    assert saved(Path(run["dir"])) == {"progress.txt": "three", "end.txt": "end"}


def test_run_lineage_lists_inputs_and_outputs(store_dir: Path, tmp_path: Path) -> None:
    from wandb_cli.artifacts import store as artifacts

    write(tmp_path / "d/a.txt", "a")
    artifacts.log_artifact(store_dir, tmp_path / "d", "data", "dataset", producer_run="r1")
    artifacts.get_artifact(store_dir, "data:v0", tmp_path / "got", consumer_run="r2")
    assert files.run_lineage(store_dir, "r1") == {
        "inputs": [], "outputs": [{"ref": "data:v0", "type": "dataset", "size": 1}]}
    assert files.run_lineage(store_dir, "r2")["inputs"] == [{"ref": "data:v0", "type": "dataset", "size": 1}]
