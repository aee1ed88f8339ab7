"""Faults that try to break wbrun: kill -9 of the program or of wbrun, torn lines, a full
disk, corrupt documents, stale locks, fifty runs at once under tag/note/stop.  Each case
asserts what survived.  (Hostile text, paths, secrets and arbitrary input: test_hostile.py.)"""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import read_jsonl, wbrun_cmd
from helpers import pid_running, record_runs

HISTORY, EVENTS, RUN_DOC = "wandb-history.jsonl", "wandb-events.jsonl", "wbrun-run.json"


# --- helpers ------------------------------------------------------------------------------
def run_dir_of(store: Path, run_id: str, timeout: float = 20.0) -> Path:
    """The folder of `run_id` once its claim names one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            claim = json.loads((store / ".wbrun" / "ids" / run_id).read_text())
            if claim.get("dir"):
                return store / claim["dir"]
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} never appeared")


def files_of(store: Path, run_id: str) -> Path:
    return run_dir_of(store, run_id) / "files"


def runs_by_id(wbrun, *extra: str) -> dict[str, dict]:
    result = wbrun("runs", "ls", "--format", "json", *extra)
    assert result.returncode == 0, result.stderr
    return {run["id"]: run for run in json.loads(result.stdout)}


def sdk_script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "train.py"
    path.write_text("import sys, wandb_cli as wandb\n" + body)
    return path


# --- kill -9 ------------------------------------------------------------------------------
LOG_FOREVER = """
run = wandb.init(id="sdkkill9", project="faults")
step = 0
while True:
    run.log({"i": step, "loss": 1 / (step + 1), "tag": "x" * (step % 50)})
    print(step, flush=True)  # only once log() has returned
    step += 1
"""


def test_kill_9_of_an_sdk_program_keeps_every_logged_step(tmp_path, store_dir, wbrun):
    child = subprocess.Popen([sys.executable, str(sdk_script(tmp_path, LOG_FOREVER))],
                             stdout=subprocess.PIPE, text=True)
    printed = [int(child.stdout.readline()) for _ in range(300)]
    child.send_signal(signal.SIGKILL)
    printed += [int(line) for line in child.stdout.read().split()]
    child.wait(timeout=10)
    history = wbrun("runs", "history", "sdkkill9", "--format", "json")
    assert history.returncode == 0
    # A kill can tear the one line in flight (the kernel stops a write at a page boundary
    # when SIGKILL is pending): that line is skipped with one warning, never a returned one.
    assert history.stderr in ("", f"wbrun: warning: {files_of(store_dir, 'sdkkill9') / HISTORY}: "
                                  "skipped 1 torn or corrupt line\n")
    steps = [row["i"] for row in json.loads(history.stdout)]
    assert steps[: len(printed)] == printed == list(range(len(printed)))
    assert len(steps) - len(printed) <= 1  # at most the step logged but not yet printed
    assert runs_by_id(wbrun)["sdkkill9"]["state"] == "crashed"
    # the store stays usable: a new run starts and the crashed one resumes after its last step
    resumed = subprocess.run([sys.executable, "-c", "import wandb_cli as w; r = w.init("
                              "id='sdkkill9', project='faults', resume='allow'); "
                              "r.log({'i': -1}); r.finish()"], capture_output=True, timeout=30)
    assert resumed.returncode == 0, resumed.stderr
    rows = read_jsonl_lenient(files_of(store_dir, "sdkkill9") / HISTORY)
    assert [row["i"] for row in rows] == [*steps, -1] and rows[-1]["_step"] == len(steps)
    assert runs_by_id(wbrun)["sdkkill9"]["state"] == "finished"


WRAPPED_SDK = """
import os
run = wandb.init()
open(sys.argv[1], "w").write(str(os.getpid()))
for step in range(10_000):
    run.log({"i": step})
    print(f"logged {step}", flush=True)
"""


@pytest.mark.slow
def test_kill_9_of_wbrun_kills_the_sdk_child_and_the_run_resumes(tmp_path, store_dir, wbrun):
    """test_runner_wrap.py covers a sleeping child; here the child logs through the SDK."""
    marker = tmp_path / "child.pid"
    wrapper = subprocess.Popen(wbrun_cmd("-q", "--id", "wrapk9", "--", sys.executable,
                                         str(sdk_script(tmp_path, WRAPPED_SDK)), str(marker)),
                               stdout=subprocess.PIPE, text=True)
    for _ in range(100):
        wrapper.stdout.readline()
    wrapper.kill()
    wrapper.wait(timeout=10)
    child = int(marker.read_text())
    deadline = time.monotonic() + 10
    while pid_running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_running(child), "the child outlived wbrun"
    assert runs_by_id(wbrun)["wrapk9"]["state"] == "crashed"
    rows = read_jsonl_lenient(files_of(store_dir, "wrapk9") / HISTORY)  # may end torn
    assert [row["i"] for row in rows] == list(range(len(rows))) and len(rows) >= 100
    again = wbrun("-q", "--id", "wrapk9", "--resume", "allow", "--", sys.executable, "-c",
                  "print('i=-1')")
    assert again.returncode == 0, again.stderr
    rows_after = read_jsonl_lenient(files_of(store_dir, "wrapk9") / HISTORY)
    assert rows_after[:-1] == rows and rows_after[-1]["_step"] == len(rows)
    assert runs_by_id(wbrun)["wrapk9"]["state"] == "finished"


# --- torn lines ---------------------------------------------------------------------------
def _logged_run(tmp_path: Path, run_id: str, steps: int) -> None:
    script = (f"import wandb_cli as w\nr = w.init(id={run_id!r}, resume='allow')\n"
              f"for i in range({steps}): r.log({{'loss': i / 10}})\n"
              "r._live.append_event({'system.cpu': 1.0})\nr.finish()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30,
                          env={**os.environ, "WBRUN_SYSTEM": "0"})
    assert done.returncode == 0, done.stderr


def test_a_torn_last_line_is_skipped_once_and_appending_resumes(tmp_path, store_dir, wbrun):
    _logged_run(tmp_path, "torn0001", 5)
    files = files_of(store_dir, "torn0001")
    with open(files / HISTORY, "ab") as fh:
        fh.write(b'{"loss": 0.5, "_step": 5, "_runti')  # killed mid-write: no newline
    with open(files / EVENTS, "ab") as fh:
        fh.write(b'{"system.cpu": 2.')
    history = wbrun("runs", "history", "torn0001", "--format", "json")
    assert history.returncode == 0
    assert [row["loss"] for row in json.loads(history.stdout)] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert history.stderr.count("warning") == 1 and "torn" in history.stderr
    system = wbrun("runs", "system", "torn0001", "--format", "json")
    assert len(json.loads(system.stdout)) == 1 and system.stderr.count("warning") == 1
    _logged_run(tmp_path, "torn0001", 2)  # resume, log, finish
    rows = json.loads(wbrun("runs", "history", "torn0001", "--format", "json").stdout)
    assert [(row["_step"], row["loss"]) for row in rows] == \
        [(0, 0.0), (1, 0.1), (2, 0.2), (3, 0.3), (4, 0.4), (5, 0.0), (6, 0.1)]
    # the torn fragment stays on a line of its own; nothing written after it was swallowed
    lines = (files / HISTORY).read_bytes().split(b"\n")
    assert lines[5] == b'{"loss": 0.5, "_step": 5, "_runti' and lines[-1] == b""
    events = read_jsonl_lenient(files / EVENTS)
    assert [row["system.cpu"] for row in events] == [1.0, 1.0]
    assert runs_by_id(wbrun)["torn0001"]["state"] == "finished"


def read_jsonl_lenient(path: Path) -> list[dict]:
    from wandb_cli.store import jsonio

    return list(jsonio.iter_jsonl(path))


def test_a_torn_line_in_the_middle_and_garbage_bytes_are_skipped(tmp_path, store_dir, wbrun):
    _logged_run(tmp_path, "torn0002", 3)
    path = files_of(store_dir, "torn0002") / HISTORY
    lines = path.read_bytes().split(b"\n")
    # a torn line followed by a good one, then NUL blocks as a power cut leaves them
    path.write_bytes(b"\n".join([lines[0], lines[1][:9], lines[2], b"\0" * 64, b""]))
    history = wbrun("runs", "history", "torn0002", "--format", "json")
    assert [row["_step"] for row in json.loads(history.stdout)] == [0, 2]
    assert history.stderr.count("\n") == 1 and "skipped 2 torn or corrupt lines" in history.stderr
    show = wbrun("runs", "show", "torn0002", "--format", "json")
    assert show.returncode == 0 and json.loads(show.stdout)["history"]["loss"]["count"] == 2


# --- a full disk --------------------------------------------------------------------------
FILL_THE_DISK = """
import os, pathlib, sys, time
history = pathlib.Path(os.environ["WBRUN_RUN_DIR"]) / "files" / "wandb-history.jsonl"
for i in range(5):
    print(f"loss={i}", flush=True)
deadline = time.time() + 20
while time.time() < deadline and history.read_bytes().count(b"\\n") < 5:
    time.sleep(0.02)
for _ in range(2000):  # 2 MB of output: more than the disk (or the file size limit) holds
    print("y" * 999)
sys.stdout.flush()
for i in range(5, 10):
    print(f"loss={i}", flush=True)
print("child done", flush=True)
sys.exit(7)
"""


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (needs root); the test is skipped where it cannot be mounted."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root); the RLIMIT_FSIZE case still runs")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _early_run(wbrun, store: Path) -> None:
    wbrun("--dir", str(store), "-q", "--id", "early001", "--", sys.executable, "-c",
          "print('loss=0.5')", check_code=0)


def _check_early_run(wbrun, store: Path) -> dict[str, dict]:
    runs = runs_by_id(wbrun, "--dir", str(store))
    early = runs["early001"]
    assert (early["state"], early["exit_code"], early["summary"]) == ("finished", 0, {"loss": 0.5})
    assert [row["loss"] for row in read_jsonl(files_of(store, "early001") / HISTORY)] == [0.5]
    return runs


@pytest.mark.slow
def test_a_full_disk_warns_and_the_child_runs_to_its_end(small_disk, wbrun):
    store = small_disk / "wandb"
    _early_run(wbrun, store)
    full = wbrun("--dir", str(store), "--id", "full0001", "--", sys.executable, "-c",
                 FILL_THE_DISK)
    assert full.returncode == 7  # the child's own status: it was not stopped
    assert full.stdout.endswith("loss=9\nchild done\n") and full.stdout.count("y" * 999) == 2000
    # the closing block says what the store will say
    assert "(full0001) failed (not recorded: it reads as crashed): " in full.stderr
    warnings = [line for line in full.stderr.splitlines() if line.startswith("wbrun: warning: ")]
    assert warnings[0] == "wbrun: warning: cannot write output.log: No space left on device; " \
                          "the output is no longer recorded"
    assert warnings[-1].endswith("the run's end was not recorded, so it will read as crashed "
                                 "(exit code 7)")
    # between them at most a late metadata write; later failures are not repeated
    assert len(warnings) <= 3 and all(line.startswith("wbrun: warning: cannot write ") and
                                      "No space left on device" in line for line in warnings)
    runs = _check_early_run(wbrun, store)
    assert runs["full0001"]["state"] == "crashed"  # no room was left to record its end
    rows = json.loads(wbrun("runs", "history", "full0001", "--dir", str(store),
                            "--format", "json").stdout)
    assert [row["loss"] for row in rows][:5] == [0, 1, 2, 3, 4]
    assert [row["_step"] for row in rows] == list(range(len(rows)))
    # a new run on the full disk is refused clearly, and leaves the store readable
    refused = wbrun("--dir", str(store), "-q", "--", sys.executable, "-c", "print('ran')")
    assert refused.returncode == 1 and "ran" not in refused.stdout
    assert refused.stderr.startswith("wbrun: error: ") and "No space left" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert set(_check_early_run(wbrun, store)) >= {"early001", "full0001"}


def _limit_file_size(limit: int):
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


def test_a_file_size_limit_warns_and_the_child_runs_to_its_end(store_dir, wbrun):
    """Without root: RLIMIT_FSIZE makes output.log's writes fail (EFBIG) part-way."""
    _early_run(wbrun, store_dir)
    full = subprocess.run(wbrun_cmd("-q", "--id", "fsize001", "--", sys.executable, "-c",
                                    FILL_THE_DISK),
                          capture_output=True, text=True, timeout=60,
                          preexec_fn=_limit_file_size(256 * 1024))
    assert full.returncode == 7 and full.stdout.endswith("loss=9\nchild done\n")
    assert full.stdout.count("y" * 999) == 2000
    assert full.stderr.startswith("wbrun: warning: ") and "File too large" in full.stderr
    assert "output is no longer recorded" in full.stderr and full.stderr.count("\n") == 1
    run = _check_early_run(wbrun, store_dir)["fsize001"]
    # only output.log hit the limit: every metric, the summary and the final state are kept
    assert (run["state"], run["exit_code"], run["summary"]) == ("failed", 7, {"loss": 9})
    rows = read_jsonl(files_of(store_dir, "fsize001") / HISTORY)
    assert [row["loss"] for row in rows] == list(range(10))
    output = (files_of(store_dir, "fsize001") / "output.log").read_bytes()
    assert len(output) <= 256 * 1024 and output.startswith(b"loss=0\nloss=1\n")


SDK_FILLS_THE_DISK = """
import os, pathlib
run = wandb.init(id="sdkfull1")
for i in range(5):
    run.log({"loss": i})
filler = pathlib.Path(sys.argv[1]) / "filler"
try:
    with open(filler, "wb") as fh:
        fh.write(b"z" * 2_000_000)
except OSError:
    pass
for i in range(5, 400):
    run.log({"loss": i, "pad": "p" * 200})
print("program done", flush=True)
"""


@pytest.mark.slow
def test_an_sdk_program_keeps_training_when_the_disk_fills(small_disk, tmp_path, wbrun):
    store = small_disk / "wandb"
    done = subprocess.run([sys.executable, str(sdk_script(tmp_path, SDK_FILLS_THE_DISK)),
                           str(small_disk)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "WBRUN_DIR": str(store), "WBRUN_SYSTEM": "0"})
    assert done.returncode == 0 and done.stdout == "program done\n"
    assert "No space left on device" in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.count("logging continues") == 1
    (small_disk / "filler").unlink()  # room again: the run can be read and resumed
    rows = read_jsonl_lenient(files_of(store, "sdkfull1") / HISTORY)
    assert [row["loss"] for row in rows][:5] == [0, 1, 2, 3, 4]
    assert [row["_step"] for row in rows] == list(range(len(rows)))
    run = runs_by_id(wbrun, "--dir", str(store))["sdkfull1"]
    assert run["state"] in ("finished", "crashed")


# --- corrupt or missing documents ---------------------------------------------------------
def make_runs(store: Path, ids: list[str], **log) -> None:
    """Finished runs made in this process, quicker than a child each."""
    record_runs(store, ids, project="docs", config={"lr": 0.1}, metrics=[{"loss": 1.0, **log}],
                recorder="sdk")


CORRUPTIONS = {  # run -> (document, new content or None to remove it)
    "tornrun1": (RUN_DOC, b'{"id": "tornrun1", "sta'),
    "norundoc": (RUN_DOC, None),
    "listdoc1": (RUN_DOC, b"[]"),
    "badconf1": ("config.json", b"\0\0\0\0"),
    "badsumm1": ("wandb-summary.json", b"[1, 2"),
}


def _corrupt_store(store: Path) -> None:
    make_runs(store, ["goodrun1", *CORRUPTIONS, "goodrun2"])
    for run_id, (name, content) in CORRUPTIONS.items():
        path = files_of(store, run_id) / name
        if content is None:
            path.unlink()
        else:
            path.write_bytes(content)


def test_corrupt_documents_read_as_corrupt_and_the_rest_list_normally(store_dir, wbrun):
    _corrupt_store(store_dir)
    table = wbrun("runs", "ls")
    assert table.returncode == 0 and "Traceback" not in table.stderr
    assert all(run_id in table.stdout for run_id in ["goodrun1", "goodrun2", *CORRUPTIONS])
    runs = runs_by_id(wbrun)
    for run_id in ("goodrun1", "goodrun2"):
        assert runs[run_id]["state"] == "finished" and "problems" not in runs[run_id]
        assert (runs[run_id]["config"], runs[run_id]["summary"]) == ({"lr": 0.1}, {"loss": 1.0})
    for run_id in ("tornrun1", "norundoc", "listdoc1"):  # no state record: corrupt
        assert runs[run_id]["state"] == "corrupt" and runs[run_id]["problems"]
        assert runs[run_id]["summary"] == {"loss": 1.0}  # the readable parts are kept
    # a damaged config or summary leaves the run's state readable; the damage is named
    assert runs["badconf1"]["state"] == "finished" and runs["badconf1"]["config"] == {}
    assert runs["badconf1"]["problems"] == ["config.json is unreadable (JSONDecodeError)"]
    assert runs["badsumm1"]["state"] == "finished" and runs["badsumm1"]["summary"] == {}
    for run_id in CORRUPTIONS:  # each can still be shown and its history read
        assert wbrun("runs", "show", run_id).returncode == 0
        history = wbrun("runs", "history", run_id, "--format", "json")
        assert [row["loss"] for row in json.loads(history.stdout)] == [1.0]


def test_runs_ls_warns_about_each_damaged_run(store_dir, wbrun):
    _corrupt_store(store_dir)
    table = wbrun("runs", "ls")
    assert table.returncode == 0
    assert all(run_id in table.stderr for run_id in CORRUPTIONS)
    assert "goodrun1" not in table.stderr


def test_a_wrongly_typed_run_document_does_not_break_the_listing(store_dir, wbrun):
    make_runs(store_dir, ["goodrun1", "badtype1"])
    (files_of(store_dir, "badtype1") / RUN_DOC).write_bytes(
        b'{"id": "badtype1", "state": "finished", "created": "yesterday", "command": 7}')
    table = wbrun("runs", "ls")
    assert table.returncode == 0 and "goodrun1" in table.stdout and "badtype1" in table.stdout
    assert runs_by_id(wbrun)["badtype1"]["state"] == "corrupt"


@pytest.mark.parametrize("times", [{"ended": 1e20}, {"created": 1e300, "heartbeat": -1e12}])
def test_a_run_document_time_past_year_9999_is_a_problem_not_an_internal_error(store_dir, wbrun, times):
    make_runs(store_dir, ["goodrun1", "y10krun1"])
    path = files_of(store_dir, "y10krun1") / RUN_DOC
    path.write_bytes(json.dumps({**json.loads(path.read_bytes()), **times}).encode())
    for fmt in ("table", "json", "jsonl", "csv", "ids"):
        listed = wbrun("runs", "ls", "--format", fmt)
        assert listed.returncode == 0 and "y10krun1" in listed.stdout, listed.stderr
        assert "internal error" not in listed.stderr
    run = runs_by_id(wbrun)["y10krun1"]
    assert run["state"] == "corrupt"
    assert run["problems"] == [f"{RUN_DOC}: {key} is not a time from year 1 to 9999 ({value!r})"
                               for key, value in times.items()]
    assert all(run[key] is None for key in times if key != "created")
    assert runs_by_id(wbrun)["goodrun1"]["state"] == "finished"
    shown = wbrun("runs", "show", "y10krun1")
    assert shown.returncode == 0 and "is not a time from year 1 to 9999" in shown.stdout


def test_an_infinite_segment_in_a_run_document_is_not_its_runtime_nor_an_internal_error(store_dir, wbrun):
    make_runs(store_dir, ["goodrun1", "infinite"])
    path = files_of(store_dir, "infinite") / RUN_DOC
    doc = json.loads(path.read_bytes())
    path.write_text(json.dumps({**doc, "segments": [{"start": doc["created"], "seconds": float("inf")}]}))
    assert b"Infinity" in path.read_bytes()
    for args in (["--format", "table"], ["--format", "csv"], ["--sort", "runtime"],
                 ["--filter", "runtime >= 0"], ["--columns", "id,runtime"]):
        listed = wbrun("runs", "ls", *args)
        assert listed.returncode == 0 and "internal error" not in listed.stderr, listed.stderr
        assert "goodrun1" in listed.stdout
    assert 0 <= runs_by_id(wbrun)["infinite"]["runtime"] < 60  # (from its start to its end instead)
    assert wbrun("runs", "show", "infinite").returncode == 0


# --- locks --------------------------------------------------------------------------------
HOLD_LOCKS = """
import sys, time
from pathlib import Path
from wandb_cli.store.layout import RunPaths, lock
store = Path(sys.argv[1])
with lock(store / ".wbrun" / "store.lock"), RunPaths(Path(sys.argv[2])).lock():
    print("holding", flush=True)
    time.sleep(60)
"""


def test_a_lock_left_by_a_killed_process_never_blocks_the_store(store_dir, wbrun):
    make_runs(store_dir, ["locked01"])
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCKS, str(store_dir),
                               str(run_dir_of(store_dir, "locked01"))],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "holding\n"
    holder.kill()
    holder.wait(timeout=10)
    # a new run needs the store lock; a resume and `wbrun log` need the run's lock
    wbrun("-q", "--id", "after001", "--", sys.executable, "-c", "print('x=1')", check_code=0)
    wbrun("-q", "--id", "locked01", "--resume", "allow", "--", sys.executable, "-c",
          "print('loss=2')", check_code=0)
    # (a lock still held would have failed them after its 30 s timeout: check_code=0 says
    # it did not; no wall-clock bound, the machine may be loaded)
    rows = read_jsonl(files_of(store_dir, "locked01") / HISTORY)
    assert [row["loss"] for row in rows] == [1.0, 2]
    assert {run["id"]: run["state"] for run in runs_by_id(wbrun).values()} == \
        {"locked01": "finished", "after001": "finished"}


# --- load ---------------------------------------------------------------------------------
LOAD_CHILD = """
import os, sys, time
for i in range(10):
    print(f"i={i}", flush=True)
while not os.path.exists(sys.argv[1]):  # the test releases everyone at once
    time.sleep(0.05)
if sys.argv[2] == "stop-me":
    time.sleep(120)  # only `wbrun runs stop` ends this one
for i in range(10, 20):
    print(f"i={i}", flush=True)
"""
LOAD_RUNS, STOPPED, TAGGERS, NOTERS = 50, 5, 3, 6


def _wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _history_steps(store: Path, run_id: str) -> list[int]:
    try:
        return [row["i"] for row in read_jsonl_lenient(run_dir_of(store, run_id, 1) / "files" / HISTORY)]
    except AssertionError:
        return []


@pytest.mark.slow
def test_fifty_runs_at_once_while_tags_notes_and_stops_hit_them(tmp_path, store_dir, wbrun):
    release = tmp_path / "release"
    ids = [f"load{n:04d}" for n in range(LOAD_RUNS)]
    wrappers = [subprocess.Popen(
        wbrun_cmd("-q", "-p", "load", "--id", run_id, "-t", "start", "--no-system", "--",
                  sys.executable, "-c", LOAD_CHILD, str(release),
                  "stop-me" if n < STOPPED else "run"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for n, run_id in enumerate(ids)]
    try:
        _wait_until(lambda: all(len(_history_steps(store_dir, r)) == 10 for r in ids), 60,
                    "every run's first ten steps")
        hits = [subprocess.Popen(wbrun_cmd("runs", "tag", "--filter", "project = load", f"t{k}"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                for k in range(TAGGERS)]
        hits += [subprocess.Popen(wbrun_cmd("runs", "note", ids[-1], f"line {k}", "--append"),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for k in range(NOTERS)]
        stopper = subprocess.Popen(wbrun_cmd("runs", "stop", "--timeout", "5", *ids[:STOPPED]),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for hit in hits:
            assert hit.wait(timeout=60) == 0, hit.stderr.read()
        release.touch()
        assert stopper.wait(timeout=60) == 0, stopper.stderr.read()
        codes = [wrapper.wait(timeout=60) for wrapper in wrappers]
    finally:
        release.touch()
        for process in wrappers:
            process.kill()
    assert codes == [130] * STOPPED + [0] * (LOAD_RUNS - STOPPED)
    runs = runs_by_id(wbrun)
    assert sorted(runs) == ids
    names = sorted(int(run["name"].rsplit("-", 1)[1]) for run in runs.values())
    assert names == list(range(1, LOAD_RUNS + 1))  # distinct names, numbered without a gap
    for n, run_id in enumerate(ids):
        run = runs[run_id]
        stopped = n < STOPPED
        assert run["state"] == ("killed" if stopped else "finished"), run_id
        assert _history_steps(store_dir, run_id) == list(range(10 if stopped else 20)), run_id
        assert sorted(run["tags"]) == ["start", *(f"t{k}" for k in range(TAGGERS))], run_id
    assert sorted(runs[ids[-1]]["notes"].splitlines()) == [f"line {k}" for k in range(NOTERS)]


WORKERS = """
import multiprocessing, sys, time
import wandb_cli as wandb

def work(rank, rows, start):
    run = wandb.init()  # joins the wrapper's run
    start.wait()
    for i in range(rows):
        run.log({f"w{rank}": i})
        if i % 20 == 0:
            time.sleep(0.001)  # let the others in
    run.finish()

if __name__ == "__main__":
    rows = int(sys.argv[1])
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Event()
    workers = [spawn.Process(target=work, args=(rank, rows, start)) for rank in range(3)]
    for worker in workers:
        worker.start()
    time.sleep(1.0)
    start.set()
    for worker in workers:
        worker.join()
    sys.exit(max(worker.exitcode for worker in workers))
"""


@pytest.mark.slow
def test_processes_logging_into_one_run_share_its_steps(tmp_path, store_dir, wbrun):
    """Workers that join the wrapper's run, and a shell's `wbrun log` beside a program's
    log(): each row takes the run's next step, none twice, nothing dropped."""
    script = tmp_path / "workers.py"
    script.write_text(WORKERS)
    wbrun("-q", "--id", "shared01", "--", sys.executable, str(script), "300",
          env={"WBRUN_SYSTEM": "0"}, check_code=0)
    rows = read_jsonl(files_of(store_dir, "shared01") / HISTORY)
    assert [row["_step"] for row in rows] == list(range(900))
    for rank in range(3):  # each worker's rows, in its own order
        assert [row[f"w{rank}"] for row in rows if f"w{rank}" in row] == list(range(300))
    shell = (f"(for j in $(seq 30); do {sys.executable} -m wandb_cli log z=$j; done) & "
             f"{sys.executable} {sdk_script(tmp_path, SLOW_LOG)} 200; wait")
    wbrun("-q", "--id", "shared02", "--", "bash", "-c", shell, env={"WBRUN_SYSTEM": "0"}, check_code=0)
    rows = read_jsonl(files_of(store_dir, "shared02") / HISTORY)
    assert [row["_step"] for row in rows] == list(range(230))
    assert [row["z"] for row in rows if "z" in row] == list(range(1, 31))
    assert [row["x"] for row in rows if "x" in row] == list(range(200))
    # a process forked after init() logging beside its parent, no wrapper
    done = subprocess.run([sys.executable, str(sdk_script(tmp_path, FORKED))], capture_output=True,
                          timeout=60, env={**os.environ, "WBRUN_SYSTEM": "0"})
    assert done.returncode == 0, done.stderr
    rows = read_jsonl(files_of(store_dir, "forked01") / HISTORY)
    assert [row["_step"] for row in rows] == list(range(1002))
    for who, count in (("parent", 200), ("child", 200), ("parent2", 300), ("child2", 300)):
        assert [row[who] for row in rows if who in row] == list(range(count))
    assert sum("chart_table" in row for row in rows) == 1  # (W&B stores a chart so)


SLOW_LOG = """
import time
run = wandb.init()
for i in range(int(sys.argv[1])):
    run.log({"x": i})
    time.sleep(0.002)
run.finish()
"""


FORKED = """
import os, time
run = wandb.init(id="forked01")
run.log({"start": 1})
pid = os.fork()
who = "child" if pid == 0 else "parent"
for i in range(200):
    run.log({who: i})
    if i % 20 == 0:
        time.sleep(0.001)
if pid == 0:
    # a chart (its spec goes into the config, under the run's lock) while steps are shared
    table = wandb.Table(data=[[1, 2], [2, 3]], columns=["x", "y"])
    run.log({"chart": wandb.plot.line(table, "x", "y", title="t")})
    os._exit(0)
os.waitpid(pid, 0)
# the parent shares the steps now (its lock file open): a second child forked from it
pid = os.fork()
who = "child2" if pid == 0 else "parent2"
for i in range(300):
    run.log({who: i})
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
run.finish()
"""


def _catches(pid: int, signum: int) -> bool:
    """Whether process `pid` has a handler installed for `signum` (/proc SigCgt)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_a_sigterm_while_wbrun_starts_the_run_stops_it_before_the_command_runs(store_dir, wbrun):
    """A scheduler's SIGTERM that lands while wbrun creates the run (here: waiting for the
    store's lock) stops it there: the command is never started and the run reads killed.
    It was lost (the command ran to its end, recorded finished 0) or killed wbrun itself (the
    run left crashed)."""
    from wandb_cli.store.layout import lock

    wbrun("-q", "--", "true", check_code=0)  # the store exists
    with lock(store_dir / ".wbrun" / "store.lock"):
        wrapper = subprocess.Popen(wbrun_cmd("-q", "--id", "termwait", "--", "sh", "-c",
                                             "echo started; sleep 120"),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_until(lambda: wrapper.poll() is not None or _catches(wrapper.pid, signal.SIGTERM),
                    30, "wbrun's SIGTERM handler")
        time.sleep(0.3)  # (blocked on the lock by now: the handler goes in just before)
        wrapper.send_signal(signal.SIGTERM)
    assert wrapper.wait(timeout=60) == 143, wrapper.stderr.read()
    assert wrapper.stdout.read() == ""  # the command never ran
    run = runs_by_id(wbrun)["termwait"]
    assert (run["state"], run["exit_code"]) == ("killed", 143)


@pytest.mark.slow
def test_a_run_id_whose_creation_failed_on_a_full_disk_can_be_used_once_there_is_room(small_disk, wbrun):
    """The claim of an ID whose run could not be created is given back: the ID was refused
    for ever after ("already exists (pass --resume allow...)", with --resume allow too)."""
    store = small_disk / "wandb"
    wbrun("--dir", str(store), "-q", "--", "true", check_code=0)
    filler = small_disk / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass  # (a 1 MiB file system: bounded)
    failed = wbrun("--dir", str(store), "-q", "--id", "myexp", "--", "echo", "ran")
    assert failed.returncode == 1 and "No space left on device" in failed.stderr
    assert not (store / ".wbrun" / "ids" / "myexp").exists()
    assert not list(store.glob("run-*-myexp*"))
    filler.unlink()
    done = wbrun("--dir", str(store), "-q", "--id", "myexp", "--", "echo", "ran", check_code=0)
    assert done.stdout == "ran\n"
    assert runs_by_id(wbrun, "--dir", str(store))["myexp"]["state"] == "finished"


KILLED_CREATOR = """
import os, signal, sys, time
from pathlib import Path
from wandb_cli.store.layout import Store
store = Store(Path(sys.argv[1]))
store.claim_new_id(sys.argv[2])  # what recorder._create does first, then
store.claim_folder(sys.argv[2], store.make_run_dir(sys.argv[2], time.time()))
os.kill(os.getpid(), signal.SIGKILL)  # as a kill -9 between claiming the ID and writing the run
"""


def test_an_id_left_by_a_creator_killed_part_way_is_free_again(store_dir, wbrun):
    """A kill -9 between claiming an ID and writing the run left an empty claim (the ID
    refused for ever) and a folder without its run document (listed corrupt, which `runs
    delete` refused).  A claim whose creator is gone is taken over, its folder removed; a
    doc-less folder can be deleted, restored and purged."""
    wbrun("-q", "--", "true", check_code=0)
    for run_id in ("killed01", "killed02"):
        creator = subprocess.run([sys.executable, "-c", KILLED_CREATOR, str(store_dir), run_id],
                                 timeout=30)
        assert creator.returncode == -signal.SIGKILL
        assert len(list(store_dir.glob(f"run-*-{run_id}"))) == 1
    listed = wbrun("runs", "ls", "--format", "ids")
    assert {"killed01", "killed02"} <= set(listed.stdout.split())
    assert "killed01 (corrupt): wbrun-run.json is missing" in listed.stderr
    # the ID is used again, with or without --resume allow; the creator's folder is gone
    wbrun("-q", "--id", "killed01", "--", "true", check_code=0)
    wbrun("-q", "--id", "killed02", "--resume", "allow", "--", "true", check_code=0)
    for run_id in ("killed01", "killed02"):
        [folder] = store_dir.glob(f"run-*-{run_id}")
        assert (folder / "files" / "wbrun-run.json").exists()
        assert runs_by_id(wbrun)[run_id]["state"] == "finished"
    # a take-over removes only the folder its claim names: not run exp-1's (which reads
    # like a second folder of exp), even with its document gone
    wbrun("-q", "--id", "exp-1", "--", "sh", "-c", "echo loss=1", check_code=0)
    [other] = store_dir.glob("run-*-exp-1")
    (other / "files" / "wbrun-run.json").unlink()
    subprocess.run([sys.executable, "-c", KILLED_CREATOR, str(store_dir), "exp"], timeout=30)
    wbrun("-q", "--id", "exp", "--", "true", check_code=0)
    assert (other / "files" / "wandb-history.jsonl").read_text().count("loss") == 1
    # a doc-less folder is known by the whole ID its name ends with, and its claim moves
    wbrun("runs", "delete", "exp-1", "--yes", check_code=0)
    claim = json.loads((store_dir / ".wbrun" / "ids" / "exp-1").read_text())
    assert claim["status"] == "deleted" and not (store_dir / ".wbrun" / "ids" / "1").exists()
    wbrun("runs", "restore", "exp-1", check_code=0)
    assert json.loads((store_dir / ".wbrun" / "ids" / "exp-1").read_text())["dir"] == other.name
    # a claim emptied by a crash (over 2 minutes ago) of a run that exists is mended, not
    # taken: the run resumes rather than a second run of that ID being made
    claim_file = store_dir / ".wbrun" / "ids" / "killed01"
    claim_file.write_text("")
    os.utime(claim_file, (time.time() - 600, time.time() - 600))
    wbrun("-q", "--id", "killed01", "--resume", "allow", "--", "true", check_code=0)
    assert len(list(store_dir.glob("run-*-killed01"))) == 1
    assert runs_by_id(wbrun)["killed01"]["state"] == "finished"
    # a doc-less folder of a random ID (nothing will ever take it over) can be removed
    orphan = store_dir / "run-20260101_000000-orphan01"
    (orphan / "files").mkdir(parents=True)
    wbrun("runs", "delete", "orphan01", "--yes", check_code=0)
    assert not orphan.exists() and "orphan01" not in wbrun("runs", "ls", "--format", "ids").stdout
    wbrun("runs", "restore", "orphan01", check_code=0)
    assert orphan.is_dir()
    wbrun("runs", "delete", "orphan01", "--yes", check_code=0)
    wbrun("runs", "purge", "orphan01", "--yes", check_code=0)
    assert [p.relative_to(store_dir) for p in store_dir.rglob("*orphan01*")] == \
        [Path(".wbrun/ids/orphan01")]  # (a purged ID's claim stays: IDs are never reused)
