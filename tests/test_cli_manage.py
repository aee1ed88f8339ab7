"""`wbrun runs delete|restore|purge|tag|note|rename|stop` as real processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import read_jsonl, wbrun_cmd
from helpers import PtyProcess, record_run


def finished(run_id: str, **spec) -> None:
    """An ended run, made in-process by the recorder (the commands under test run as processes)."""
    record_run(Path(os.environ["WBRUN_DIR"]), id=run_id, **spec)


def ids(runs_json, *extra: str) -> list[str]:
    return sorted(run["id"] for run in runs_json(*extra))


def record(runs_json, run_id: str) -> dict:
    [run] = [run for run in runs_json() if run["id"] == run_id]
    return run


def wait_until(predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def start_wrapped(store: Path, run_id: str, body: str) -> subprocess.Popen:
    """A wrapped Python child that prints `ready` once `body`'s set-up is done."""
    proc = subprocess.Popen(wbrun_cmd("-q", "--id", run_id, "--", sys.executable, "-c", body),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    claim = store / ".wbrun" / "ids" / run_id

    def ready() -> bool:
        try:
            log = store / json.loads(claim.read_text())["dir"] / "files" / "output.log"
            return "ready" in log.read_text()
        except (OSError, ValueError, KeyError, TypeError):  # (no folder yet: "dir" is null)
            return False

    wait_until(ready, f"run {run_id} to start")
    return proc


def test_delete_restore_purge_round_trip_and_the_id_is_never_reused(wbrun, runs_json):
    for run_id in ("keep1", "gone1"):
        finished(run_id)
    result = wbrun("runs", "delete", "gone1", "--yes", check_code=0)
    assert "gone1" in result.stdout and "deleted gone1" in result.stdout
    assert ids(runs_json) == ["keep1"]
    assert "in the trash" in wbrun("runs", "tag", "gone1", "x", check_code=1).stderr

    assert "restored gone1" in wbrun("runs", "restore", "gone1", check_code=0).stdout
    assert ids(runs_json) == ["gone1", "keep1"]
    assert record(runs_json, "gone1")["summary"] == {"loss": 1}

    wbrun("runs", "delete", "gone1", "-y", check_code=0)
    result = wbrun("runs", "purge", "--yes", check_code=0)
    assert "purged gone1" in result.stdout
    assert os.listdir(Path(os.environ["WBRUN_DIR"]) / ".trash") == []
    assert "purged" in wbrun("runs", "restore", "gone1", check_code=1).stderr
    again = wbrun("-q", "--id", "gone1", "--", sys.executable, "-c", "pass", check_code=1)
    assert "ID 'gone1' belonged to a deleted run" in again.stderr
    assert ids(runs_json) == ["keep1"]


def test_delete_without_yes_and_without_a_terminal_is_refused(wbrun, runs_json):
    finished("ask1")
    result = wbrun("runs", "delete", "ask1", input="y\n")
    assert result.returncode == 2
    assert "--yes" in result.stderr and "no terminal" in result.stderr
    assert ids(runs_json) == ["ask1"]


def test_delete_asks_on_a_terminal(wbrun, runs_json):
    finished("tty1")
    term = PtyProcess(wbrun_cmd("runs", "delete", "tty1"))
    assert term.read_until(b"[y/N]"), term.output
    term.send(b"y\n")
    code = term.wait()
    output = term.output
    assert code == 0, output
    assert b"Delete 1 run? [y/N]" in output and b"deleted tty1" in output
    assert ids(runs_json) == []


def test_several_runs_with_one_bad_process_the_others_and_exit_1(wbrun, runs_json):
    for run_id in ("many1", "many2"):
        finished(run_id)
    result = wbrun("runs", "delete", "many1", "nosuch", "many2", "--yes")
    assert result.returncode == 1
    assert "no run matches 'nosuch'" in result.stderr
    assert "deleted many1" in result.stdout and "deleted many2" in result.stdout
    assert ids(runs_json) == []
    result = wbrun("runs", "restore", "many1", "nosuch", "many2")
    assert result.returncode == 1 and result.stdout.count("restored") == 2
    assert ids(runs_json) == ["many1", "many2"]
    result = wbrun("runs", "stop", "many1", "nosuch")
    assert result.returncode == 1 and "many1 (" in result.stdout


def test_delete_by_filter_and_a_running_run_needs_force(wbrun, runs_json, store_dir):
    finished("fail1", project="junk")
    finished("fine1", project="good")
    proc = start_wrapped(store_dir, "busy1", "import time; print('ready', flush=True); time.sleep(60)")
    result = wbrun("runs", "delete", "busy1", "--filter", "project = junk", "--yes")
    assert result.returncode == 1 and "busy1 is running" in result.stderr
    assert "deleted fail1" in result.stdout
    assert ids(runs_json) == ["busy1", "fine1"]
    result = wbrun("runs", "delete", "busy1", "--force", "--timeout", "2", "--yes", check_code=0)
    assert "stopped busy1" in result.stdout and "deleted busy1" in result.stdout
    assert proc.wait(timeout=10) == 130
    assert ids(runs_json) == ["fine1"]


def test_stop_a_wrapped_run(wbrun, runs_json, store_dir):
    proc = start_wrapped(store_dir, "wrap1", "import time; print('ready', flush=True); time.sleep(60)")
    result = wbrun("runs", "stop", "wrap1", "--timeout", "5", check_code=0)
    # exit code 130: SIGINT was enough (SIGTERM would have given 143); no wall-clock bound,
    # the machine may be loaded
    assert "stopped wrap1" in result.stdout and ": killed, exit code 130" in result.stdout
    assert proc.wait(timeout=10) == 130
    assert record(runs_json, "wrap1")["state"] == "killed"
    assert "already ended: killed" in wbrun("runs", "stop", "wrap1", check_code=0).stdout


STUBBORN = ("import signal, time\n"
            "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n")


def test_stop_escalates_to_sigkill_on_a_wrapped_program_that_ignores_signals(wbrun, runs_json,
                                                                          store_dir):
    proc = start_wrapped(store_dir, "stub1", STUBBORN)
    started = time.monotonic()
    result = wbrun("runs", "stop", "stub1", "--timeout", "0.5", check_code=0)
    elapsed = time.monotonic() - started
    assert elapsed >= 1.0, elapsed  # SIGKILL is due after two timeouts (137 says it came)
    assert "killed, exit code 137" in result.stdout
    assert proc.wait(timeout=10) == 137
    assert record(runs_json, "stub1")["state"] == "killed"


def test_stop_an_sdk_only_run(wbrun, runs_json):
    script = ("import time, wandb_cli as wandb\n"
              "run = wandb.init(id='sdk1')\n"
              "print('ready', flush=True)\n"
              "for i in range(10**6):\n"
              "    run.log({'i': i}); time.sleep(0.01)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    # (a grace long enough that a starved machine still ends it by the SIGINT alone)
    result = wbrun("runs", "stop", "sdk1", "--timeout", "120", check_code=0)
    # KeyboardInterrupt and 130 below: the SIGINT ended it, before any escalation
    assert "stopped sdk1" in result.stdout and "killed" in result.stdout
    _, stderr = proc.communicate(timeout=60)
    assert "KeyboardInterrupt" in stderr
    run = record(runs_json, "sdk1")
    assert run["state"] == "killed" and run["exit_code"] == 130


def test_tag_note_rename(wbrun, runs_json):
    finished("t1", project="vision", tags=["draft"])
    finished("t2", project="vision")
    finished("t3", project="audio")
    assert "tags draft, v1, lr:0.1" in wbrun("runs", "tag", "t1", "v1", "lr:0.1", check_code=0).stdout
    wbrun("runs", "tag", "t1", "v2", "--remove", "draft", "--remove", "v1", check_code=0)
    result = wbrun("runs", "tag", "--filter", "project = vision", "good", check_code=0)
    assert result.stdout.count("good") == 2
    bad = wbrun("runs", "tag", "t3", "fine", "two words", check_code=2)
    assert "a tag is 1-64 letters, digits" in bad.stderr
    wbrun("runs", "note", "t1", "first line", check_code=0)
    wbrun("runs", "note", "t1", "-", "--append", input="from stdin\n", check_code=0)
    wbrun("runs", "rename", "t1", "baseline", check_code=0)
    assert "control characters" in wbrun("runs", "rename", "t2", "a\x1bb", check_code=2).stderr
    # the bad text shown once escaped, as the user could type it back (not \\n, \\x1b)
    assert wbrun("runs", "rename", "t2", "a\x1bb", check_code=2).stderr.startswith(
        "wbrun: error: bad name 'a\\x1bb': ")
    assert wbrun("runs", "tag", "t3", "new\nline", check_code=2).stderr.startswith(
        "wbrun: error: bad tag 'new\\nline': ")
    runs = {run["id"]: run for run in runs_json()}
    assert runs["t1"]["tags"] == ["lr:0.1", "v2", "good"]
    assert runs["t1"]["notes"] == "first line\nfrom stdin" and runs["t1"]["name"] == "baseline"
    assert runs["t2"]["tags"] == ["good"] and runs["t3"]["tags"] == []


def test_every_command_has_help():
    import typer

    from wandb_cli.cli.app import build_app

    runs_group = typer.main.get_command(build_app()).commands["runs"]
    for name in ("delete", "restore", "purge", "tag", "note", "rename", "stop"):
        command = runs_group.commands[name]
        assert command.help and command.help.strip(), name
        assert all(param.help for param in command.params if param.name != "help"), name


BUSY = """
import json, sys, threading, time
import wandb_cli as wandb
from wandb_cli.store.layout import update_run_doc

run = wandb.init(id="busy0001", project="race")
done = threading.Event()
bumps = 0

def bump():  # the run's own side keeps rewriting its document meanwhile
    global bumps
    while not done.is_set():
        update_run_doc(run._live.paths, lambda d: d.__setitem__("bumps", d.get("bumps", 0) + 1))
        bumps += 1
        time.sleep(0.005)

threading.Thread(target=lambda: (sys.stdin.readline(), done.set()), daemon=True).start()
bumper = threading.Thread(target=bump)
bumper.start()
print("ready", flush=True)
steps = 0
while steps < 5000 or not done.is_set():
    run.log({"i": steps})
    steps += 1
    if steps % 10 == 0:
        time.sleep(0.002)
bumper.join()
run.finish()
print(json.dumps({"steps": steps, "bumps": bumps}), flush=True)
"""


@pytest.mark.slow
def test_concurrent_tags_and_notes_on_a_live_run_lose_nothing(runs_json):
    live = subprocess.Popen([sys.executable, "-c", BUSY], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert live.stdout.readline() == "ready\n"
    commands = [subprocess.Popen(wbrun_cmd("runs", "tag", "busy0001", f"tag{i}"),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(10)]
    commands += [subprocess.Popen(wbrun_cmd("runs", "note", "busy0001", "--append", f"line {i}"),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(10)]
    for command in commands:
        _, stderr = command.communicate(timeout=60)
        assert command.returncode == 0, stderr
    assert live.poll() is None, "the run ended before the commands did"
    stdout, stderr = live.communicate("done\n", timeout=60)
    assert live.returncode == 0, stderr
    counts = json.loads(stdout.splitlines()[-1])
    run = record(runs_json, "busy0001")
    assert run["state"] == "finished"
    assert sorted(run["tags"]) == sorted(f"tag{i}" for i in range(10))
    assert sorted(run["notes"].split("\n")) == sorted(f"line {i}" for i in range(10))
    doc = json.loads((Path(run["dir"]) / "files" / "wbrun-run.json").read_text())
    assert doc["bumps"] == counts["bumps"] > 0
    history = read_jsonl(Path(run["dir"]) / "files" / "wandb-history.jsonl")
    assert counts["steps"] >= 5000
    assert [row["_step"] for row in history] == list(range(counts["steps"]))
    assert [row["i"] for row in history] == list(range(counts["steps"]))


def test_latest_is_the_newest_of_our_runs_when_the_link_is_not_ours(wbrun, store_dir):
    """`latest` followed ./wandb/latest-run, which a delete leaves dangling and W&B's own SDK
    (--wandb-compat off, same folder) repoints at its offline-run folder: `runs show latest`
    then failed, or showed that folder as a corrupt run."""
    def latest() -> str:
        return json.loads(wbrun("runs", "show", "latest", "--format", "json", check_code=0).stdout)["id"]

    finished("older001")
    time.sleep(1.1)  # (created times a second apart)
    finished("newer001")
    assert latest() == "newer001"
    wbrun("runs", "delete", "newer001", "--yes", check_code=0)
    assert latest() == "older001"
    (store_dir / "offline-run-20260101_000000-w4nd8b00" / "files").mkdir(parents=True)
    (store_dir / "latest-run").unlink()
    (store_dir / "latest-run").symlink_to("offline-run-20260101_000000-w4nd8b00")
    assert latest() == "older001"
