"""The lifecycle library: trash, restore, purge, tags, notes, names, stop requests."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import read_jsonl

from wandb_cli.errors import RunExists, RunNotFound, UsageError, WbrunError
from wandb_cli.store import lifecycle
from wandb_cli.store.layout import Store
from wandb_cli.store.model import KILLED, RUNNING
from wandb_cli.store.recorder import STOP_REQUEST, RunSpec, start_run
from wandb_cli.store.stopping import request_stop, wait_for_end


@pytest.fixture
def store(store_dir) -> Store:
    return Store(store_dir)


def ended_run(store: Store, run_id: str, **spec) -> str:
    live = start_run(store, RunSpec(id=run_id, **spec), pid=os.getpid(), recorder="test")
    live.log({"loss": 1.0})
    live.log({"loss": 0.5})
    live.finish("finished", 0)
    return live.id


def claim(store: Store, run_id: str) -> dict:
    return json.loads(store.claim_path(run_id).read_text())


def test_delete_restore_purge_round_trip(store):
    ended_run(store, "trip1", tags=["a"])
    ended_run(store, "other")
    record = lifecycle.find_run(store, "trip1")
    trashed = lifecycle.delete_run(store, record)
    assert trashed.parent == store.root / ".trash" and not Path(record.dir).exists()
    assert claim(store, "trip1")["status"] == "deleted"
    assert [r.id for r in store.iter_runs()] == ["other"]
    assert [r.id for r in lifecycle.iter_trash(store)] == ["trip1"]
    with pytest.raises(RunNotFound, match="in the trash"):
        lifecycle.find_run(store, "trip1")
    with pytest.raises(RunExists, match="deleted run"):
        start_run(store, RunSpec(id="trip1", resume="allow"), pid=os.getpid(), recorder="test")

    restored = lifecycle.restore_run(store, lifecycle.find_trashed(store, "tri"))
    back = lifecycle.find_run(store, "trip1")
    assert Path(back.dir) == restored and back.tags == ["a"] and back.summary == {"loss": 0.5}
    assert len(read_jsonl(restored / "files" / "wandb-history.jsonl")) == 2
    assert claim(store, "trip1") == {"dir": restored.name, "status": "live"}

    lifecycle.delete_run(store, back)
    lifecycle.purge(store, lifecycle.find_trashed(store, "trip1"))
    assert list(lifecycle.iter_trash(store)) == [] and os.listdir(store.root / ".trash") == []
    assert claim(store, "trip1")["status"] == "purged"
    with pytest.raises(RunNotFound, match="purged"):
        lifecycle.find_trashed(store, "trip1")
    with pytest.raises(RunNotFound, match="purged"):
        lifecycle.find_run(store, "trip1")
    with pytest.raises(RunExists, match="belonged to a deleted run"):
        start_run(store, RunSpec(id="trip1"), pid=os.getpid(), recorder="test")


def test_a_running_run_is_not_deleted(store):
    live = start_run(store, RunSpec(id="live1"), pid=os.getpid(), recorder="test")
    record = store.find("live1")
    assert record.state == RUNNING
    with pytest.raises(WbrunError, match="running; stop it first"):
        lifecycle.delete_run(store, record)
    assert store.find("live1").dir == record.dir
    live.finish("finished", 0)


def test_restore_to_a_taken_folder_name_gets_a_suffix(store):
    ended_run(store, "twin")
    record = store.find("twin")
    lifecycle.delete_run(store, record)
    Path(record.dir).mkdir()  # someone made a folder of that name meanwhile
    restored = lifecycle.restore_run(store, lifecycle.find_trashed(store, "twin"))
    assert restored.name == Path(record.dir).name + "-1"
    assert lifecycle.find_run(store, "twin").dir == str(restored)


def test_purge_older_than_uses_the_deletion_time(store_dir):
    now = [1_000_000.0]
    store = Store(store_dir, clock=lambda: now[0])
    for run_id in ("old", "new"):
        ended_run(store, run_id)
        lifecycle.delete_run(store, store.find(run_id))
        now[0] += 3 * 86400
    assert [r.id for r in lifecycle.select_trash(store, older_than_s=4 * 86400)] == ["old"]
    assert {r.id for r in lifecycle.select_trash(store)} == {"old", "new"}


def test_changes_to_a_run_that_moved_away_are_refused_without_a_trace(store):
    ended_run(store, "gone1")
    stale = store.find("gone1")
    lifecycle.delete_run(store, stale)
    for change in (lambda: lifecycle.tag(store, stale, ["x"]),
                   lambda: lifecycle.set_note(store, stale, "hi"),
                   lambda: lifecycle.rename(store, stale, "new"),
                   lambda: lifecycle.delete_run(store, stale)):
        with pytest.raises(RunNotFound, match="moved meanwhile"):
            change()
    assert sorted(os.listdir(store.root)) == [".trash", ".wbrun", "latest-run"]
    assert lifecycle.find_trashed(store, "gone1").tags == []


@pytest.mark.parametrize("change", ["tag", "delete"])
def test_a_change_waiting_for_the_lock_while_the_run_moves_away_is_refused(store, change):
    import threading

    from wandb_cli.store.layout import RunPaths

    ended_run(store, "race1")
    record = store.find("race1")
    outcome: list = []
    act = {"tag": lambda: lifecycle.tag(store, record, ["late"]),
           "delete": lambda: lifecycle.delete_run(store, record)}[change]

    def attempt() -> None:
        try:
            outcome.append(act())
        except RunNotFound as exc:
            outcome.append(exc)

    with RunPaths(Path(record.dir)).lock():
        waiter = threading.Thread(target=attempt)
        waiter.start()
        time.sleep(0.3)  # the waiter has passed its checks and waits for the lock
        os.rename(record.dir, store.root / "elsewhere")
    waiter.join(timeout=10)
    assert isinstance(outcome[0], RunNotFound) and "moved meanwhile" in str(outcome[0])
    assert not Path(record.dir).exists()  # no folder re-created at the old place
    assert store.read(store.root / "elsewhere").tags == []


@pytest.mark.parametrize("tag", ["baseline", "v2", "lr:0.01", "team/vision", "a.b-c_d",
                                 "résumé", "x" * 64, "_private", "9"])
def test_good_tags(tag):
    assert lifecycle.validate_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", "two words", "-flag", "x" * 65, "a,b", "semi;colon",
                                 "new\nline", "\x1b[31mred", "quote'", "star*", "tab\t"])
def test_bad_tags_are_refused_with_the_rule(tag):
    with pytest.raises(UsageError, match="a tag is 1-64 letters"):
        lifecycle.validate_tag(tag)


def test_tag_adds_removes_and_keeps_order_without_duplicates(store):
    ended_run(store, "tags1", tags=["odd tag from the sdk", "keep"])
    record = store.find("tags1")
    assert lifecycle.tag(store, record, ["b", "a", "b"]) == ["odd tag from the sdk", "keep", "b", "a"]
    assert lifecycle.tag(store, record, ["c"], remove=["odd tag from the sdk", "a", "absent"]) \
        == ["keep", "b", "c"]
    assert lifecycle.untag(store, record, ["keep"]) == ["b", "c"]
    assert store.find("tags1").tags == ["b", "c"]
    with pytest.raises(UsageError):
        lifecycle.tag(store, record, ["fine", "not fine"])
    assert store.find("tags1").tags == ["b", "c"]  # a bad tag changes nothing


def test_notes_set_append_and_clear(store):
    ended_run(store, "notes1", notes="first")
    record = store.find("notes1")
    assert lifecycle.set_note(store, record, "second", append=True) == "first\nsecond"
    assert lifecycle.set_note(store, record, "only") == "only"
    assert lifecycle.set_note(store, record, "") is None
    assert lifecycle.set_note(store, record, "from empty", append=True) == "from empty"
    assert store.find("notes1").notes == "from empty"


def test_rename_keeps_the_id_and_refuses_bad_names(store):
    ended_run(store, "name1")
    record = store.find("name1")
    assert lifecycle.rename(store, record, "baseline adam") == "baseline adam"
    assert store.find("baseline adam").id == "name1"
    for bad in ("", "   ", "x" * 129, "two\nlines", "\x1b[2Jclear"):
        with pytest.raises(UsageError):
            lifecycle.rename(store, record, bad)
    assert store.find("name1").name == "baseline adam"


def test_stopping_an_ended_run_writes_nothing(store):
    ended_run(store, "done1")
    request = request_stop(store, store.find("done1"), timeout_s=1)
    assert request.already_ended and request.final.state == "finished"
    assert not (Path(request.record.dir) / STOP_REQUEST).exists()
    with pytest.raises(UsageError, match="timeout"):
        request_stop(store, store.find("done1"), timeout_s=0)


def test_a_resumed_run_ignores_an_old_stop_request(store):
    ended_run(store, "again1")
    run_dir = Path(store.find("again1").dir)
    (run_dir / STOP_REQUEST).write_text('{"timeout": 1}')
    live = start_run(store, RunSpec(id="again1", resume="allow"), pid=os.getpid(), recorder="test")
    assert not live.stop_requested()
    live.finish("finished", 0)


SDK_PROGRAM = """
import sys, time
import wandb_cli as wandb
run = wandb.init(id=sys.argv[1], project="stop")
run.log({"step_seen": 1})
print("ready", flush=True)
%s
"""
SLEEPS = "time.sleep(60)"
SWALLOWS = """
while True:
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        print("swallowed", flush=True)
"""


def start_sdk(run_id: str, body: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", SDK_PROGRAM % body, run_id],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    return proc


def test_stop_interrupts_an_sdk_run_blocked_in_sleep(store):
    proc = start_sdk("sdkstop1", SLEEPS)
    # a grace long enough that a starved machine still ends it by the SIGINT alone (the
    # test waits only as long as the run takes to end)
    request = request_stop(store, store.find("sdkstop1"), timeout_s=120)
    [done] = wait_for_end(store, [request])
    _, stderr = proc.communicate(timeout=60)
    assert done.final.state == KILLED and done.last_signal is None
    # last_signal None: it ended before the first escalation
    assert "KeyboardInterrupt" in stderr
    assert not (Path(done.record.dir) / STOP_REQUEST).exists()


def test_stop_escalates_on_an_sdk_run_that_swallows_ctrl_c(store):
    proc = start_sdk("sdkstop2", SWALLOWS)
    started = time.monotonic()
    [done] = wait_for_end(store, [request_stop(store, store.find("sdkstop2"), timeout_s=0.5)])
    elapsed = time.monotonic() - started
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGTERM
    assert done.last_signal == signal.SIGTERM and elapsed >= 0.5, elapsed
    record = store.find("sdkstop2")
    assert record.state == KILLED and record.exit_code == 128 + signal.SIGTERM
    assert json.loads((Path(record.dir) / "files" / "wbrun-run.json").read_text())[
        "stopped_by"] == "wbrun runs stop"


ON_ANOTHER_HOST = """
import os, sys, threading
from wandb_cli.store.recorder import RunSpec, Ticker, start_run
from wandb_cli.store.layout import Store

live = start_run(Store(sys.argv[1], host="another-host"), RunSpec(id="remote1"),
                 pid=os.getpid(), recorder="sdk")
asked = threading.Event()
Ticker(live, on_stop=asked.set).start()
print("ready", flush=True)
live.finish("killed" if asked.wait(30) else "finished", 130)
"""


def test_a_stop_request_reaches_a_run_recorded_on_another_host(store):
    """The recorder here claims another host, so only the store can carry the request."""
    proc = subprocess.Popen([sys.executable, "-c", ON_ANOTHER_HOST, str(store.root)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    record = store.find("remote1")
    assert record.host == "another-host" and record.state == RUNNING
    [done] = wait_for_end(store, [request_stop(store, record, timeout_s=0.2)])
    assert proc.wait(timeout=10) == 0  # ended by itself: no signal crosses hosts
    assert done.final.state == KILLED and done.last_signal is None
