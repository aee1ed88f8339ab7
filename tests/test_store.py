"""The store as a library: IDs, names, resume, crash judgement, finding runs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import make_record, record_run
from hypothesis import example, given
from hypothesis import strategies as st

from wandb_cli.errors import AmbiguousRun, RunExists, RunNotFound, UsageError
from wandb_cli.store import ids, proc
from wandb_cli.store.layout import Store, is_crashed
from wandb_cli.store.lifecycle import delete_run
from wandb_cli.store.recorder import RunSpec, start_run


@pytest.fixture
def store(store_dir) -> Store:
    return Store(store_dir)


def finished_run(store: Store, **spec) -> str:
    return record_run(store, **spec)


def test_generated_ids_and_names():
    rng = __import__("random").Random(1)
    seen = {ids.new_id(rng) for _ in range(500)}
    assert len(seen) == 500
    assert all(len(i) == 8 and set(i) <= set(ids.ID_ALPHABET) for i in seen)
    adjective, noun, number = ids.new_name(7, rng).split("-")
    assert adjective in ids.ADJECTIVES and noun in ids.NOUNS and number == "7"


@pytest.mark.parametrize("bad, problem", [
    ("", "empty"), ("a b", "whitespace"), ("a\tb", "whitespace"), ("a/b", "/"), ("..", "'.'"),
    ("a\\b", "\\"), ("x#1", "#"), ("x?", "?"), ("50%", "%"), ("a:b", ":"), ("a;b", ";"),
    ("a,b", ","), ("it's", "'"), (".hidden", "'.'"), ("-rf", "'-'"), ("x" * 65, "longer"),
    ("caf\u00e9\x1b", "use letters"),
])
def test_bad_user_ids_are_refused_with_the_reason(bad, problem):
    with pytest.raises(UsageError) as info:
        ids.validate_id(bad)
    assert problem in str(info.value)


@pytest.mark.parametrize("good", ["abc", "run-1", "My_Run.2", "0" * 64])
def test_good_user_ids(good):
    assert ids.validate_id(good) == good


def test_user_id_is_used_and_cannot_be_reused_after_delete(store):
    run_id = finished_run(store, id="mine-1")
    record = store.find("mine-1")
    assert record.id == "mine-1" and Path(record.dir).name.endswith("-mine-1")
    delete_run(store, record)
    with pytest.raises(RunNotFound):
        store.find("mine-1")
    for resume in ("never", "allow", "must"):
        with pytest.raises(RunExists, match="deleted run; IDs are never reused"):
            start_run(store, RunSpec(id=run_id, resume=resume), pid=os.getpid(), recorder="test")
    assert [r.id for r in store.iter_runs()] == []


def test_resume_never_refuses_an_existing_id(store):
    finished_run(store, id="r1")
    with pytest.raises(RunExists, match="already exists"):
        start_run(store, RunSpec(id="r1"), pid=os.getpid(), recorder="test")


def test_resume_allow_continues_steps_and_creates_when_missing(store):
    finished_run(store, id="r2", config={"a": 1})
    live = start_run(store, RunSpec(id="r2", resume="allow", config={"b": 2}), pid=os.getpid(),
                     recorder="test")
    assert live.step == 1
    live.log({"loss": 0.5})
    live.finish("finished", 0)
    record = store.find("r2")
    assert record.config == {"a": 1, "b": 2}
    from wandb_cli.store.history import read_history

    assert [(r["_step"], r["loss"]) for r in read_history(record.dir)] == [(0, 1.0), (1, 0.5)]
    assert len(list(store.iter_runs())) == 1
    fresh = start_run(store, RunSpec(id="r3", resume="allow"), pid=os.getpid(), recorder="test")
    assert fresh.id == "r3" and fresh.step == 0


def test_resume_must_refuses_a_missing_id(store):
    with pytest.raises(RunNotFound, match="no run with ID 'nope'"):
        start_run(store, RunSpec(id="nope", resume="must"), pid=os.getpid(), recorder="test")
    finished_run(store, id="here")
    live = start_run(store, RunSpec(id="here", resume="must"), pid=os.getpid(), recorder="test")
    assert live.step == 1


def test_names_are_numbered_per_project(store):
    names = [store.find(finished_run(store, project=p)).name for p in ("a", "a", "b", "a")]
    assert [n.rsplit("-", 1)[1] for n in names] == ["1", "2", "1", "3"]


def test_find_by_prefix_name_and_ambiguity(store):
    finished_run(store, id="abc111", name="same")
    finished_run(store, id="abc222", name="same")
    finished_run(store, id="xyz333", name="unique")
    assert store.find("xyz").id == "xyz333"
    assert store.find("unique").id == "xyz333"
    with pytest.raises(AmbiguousRun, match="abc111.*abc222|abc222.*abc111"):
        store.find("abc")
    with pytest.raises(AmbiguousRun):
        store.find("same")
    with pytest.raises(RunNotFound):
        store.find("nothing")


def test_a_dead_recorder_reads_as_crashed(store):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = start_run(store, RunSpec(id="live1"), pid=child.pid, recorder="test")
        assert store.find("live1").state == "running"
    finally:
        child.kill()
        child.wait()
    live.release_alive()  # this process holds the run's alive lock: as if it died too
    assert store.find(live.id).state == "crashed"


def test_a_reused_pid_does_not_look_alive(store):
    doc = {"host": store.host, "pid": os.getpid(), "pid_start": "0"}  # our pid, other start time
    assert is_crashed(doc, host=store.host, now=time.time(), stale_after=60)
    doc["pid_start"] = proc.start_token(os.getpid())
    assert not is_crashed(doc, host=store.host, now=time.time(), stale_after=60)


def test_runs_on_other_hosts_are_judged_by_heartbeat():
    now = time.time()
    doc = {"host": "elsewhere", "pid": 1, "heartbeat": now - 30}
    assert not is_crashed(doc, host="here", now=now, stale_after=60)
    doc["heartbeat"] = now - 61
    assert is_crashed(doc, host="here", now=now, stale_after=60)


def test_latest_run_link_is_relative_and_points_to_the_newest(store):
    finished_run(store)
    second = finished_run(store)
    link = store.root / "latest-run"
    assert link.is_symlink() and not os.path.isabs(os.readlink(link))
    assert os.readlink(link).endswith(second)


def test_store_format_documents_are_plain_json(store):
    run_id = finished_run(store, config={"lr": 0.1}, tags=["a"])
    run_dir = Path(store.find(run_id).dir)
    doc = json.loads((run_dir / "files" / "wbrun-run.json").read_text())
    assert {"id", "name", "state", "pid", "pid_start", "host", "heartbeat", "exit_code",
            "ended", "created"} <= set(doc)
    assert json.loads((run_dir / "files" / "config.json").read_text()) == {"lr": 0.1}
    assert json.loads((run_dir / "files" / "wandb-summary.json").read_text()) == {"loss": 1.0}


@given(st.lists(st.text(alphabet="ab=-./:,@%+_ 'é\"$\\\n*", max_size=4), max_size=4))
@example(["python", "train.py", "--lr=0.1"])
@example(["", "a"])
@example(["caf\u00e9"])
def test_a_command_line_is_what_shlex_join_gives(words):
    import shlex

    assert make_record("x", command=words).command_line == shlex.join(words)
