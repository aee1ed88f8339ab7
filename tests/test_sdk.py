"""The SDK in a real Python process: W&B's step rules, config, summary, states."""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import read_jsonl
from helpers import only_run


def run_py(code: str, *, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, check=check, env={**os.environ, **(env or {})}, timeout=60)


def history_of(run: dict) -> list[dict]:
    return read_jsonl(Path(run["dir"]) / "files" / "wandb-history.jsonl")


def test_step_rules(runs_json):
    result = run_py("""
        import wandb_cli as wandb
        run = wandb.init()
        run.log({"a": 1})                   # step 0
        run.log({"b": 2}, commit=False)     # accumulates into step 1
        run.log({"c": 3})                   # commits step 1 with b and c
        run.log({"d": 4}, step=5)           # jumps to 5, pending until the next step
        run.log({"e": 5}, step=5)           # same step: merged
        wandb.log({"f": 6}, step=2)         # below the current step: dropped, warned
        run.log({"g": 7})                   # no step: joins pending step 5 and commits it
        run.log({"h": 8})                   # step 6
        print(run.step)
        run.finish()
    """)
    assert result.stdout.strip() == "7"
    assert "step 2 is below the current step" in result.stderr
    # the warning names the program's line, not one of wbrun's
    assert re.search(r'^\S+:9: UserWarning: wbrun: step 2 is below', result.stderr, re.M), result.stderr
    assert "wandb_cli" not in result.stderr
    rows = [{k: v for k, v in r.items() if not k.startswith("_") or k == "_step"}
            for r in history_of(only_run(runs_json))]
    assert rows == [{"a": 1, "_step": 0}, {"b": 2, "c": 3, "_step": 1},
                    {"d": 4, "e": 5, "g": 7, "_step": 5}, {"h": 8, "_step": 6}]


def test_config_summary_and_identity(runs_json):
    result = run_py("""
        import wandb_cli as wandb
        with wandb.init(project="p", entity="me", name="n1", id="sdk00001", notes="hi",
                        tags=["a", "b"], group="g", job_type="train",
                        config={"lr": 0.1, "opt": {"name": "adam"}}) as run:
            run.config.batch = 32
            run.config.update({"epochs": 3})
            run.config.update({"lr": 0.2}, allow_val_change=True)  # W&B refuses a plain change
            run.log({"loss": 3.0}); run.log({"loss": 1.0})
            run.summary["best"] = 0.5
            run.summary["loss"] = 0.9
            assert wandb.run is run and wandb.config.batch == 32
            print(run.id, run.name, run.project, run.entity, run.path)
    """)
    assert result.stdout.split() == ["sdk00001", "n1", "p", "me", "me/p/sdk00001"]
    run = only_run(runs_json)
    assert run["config"] == {"lr": 0.2, "opt": {"name": "adam"}, "batch": 32, "epochs": 3}
    assert run["summary"] == {"loss": 0.9, "best": 0.5}
    assert (run["notes"], run["tags"], run["group"], run["job_type"]) == ("hi", ["a", "b"], "g", "train")
    assert run["state"] == "finished"


def test_uncaught_exception_marks_failed(runs_json):
    result = run_py("""
        import wandb_cli as wandb
        run = wandb.init()
        run.log({"x": 1})
        raise RuntimeError("boom")
    """, check=False)
    assert result.returncode == 1 and "RuntimeError: boom" in result.stderr
    run = only_run(runs_json)
    assert run["state"] == "failed" and run["summary"] == {"x": 1}


def test_keyboard_interrupt_marks_killed(runs_json):
    result = run_py("""
        import wandb_cli as wandb
        wandb.init()
        raise KeyboardInterrupt
    """, check=False)
    assert result.returncode != 0
    assert only_run(runs_json)["state"] == "killed"


def test_interpreter_exit_finishes_the_run(runs_json):
    run_py("import wandb_cli as wandb; wandb.init(); wandb.log({'x': 1})")
    run = only_run(runs_json)
    assert run["state"] == "finished" and run["exit_code"] == 0


def test_finish_with_exit_code_fails(runs_json):
    run_py("import wandb_cli as wandb; r = wandb.init(); r.finish(exit_code=2)")
    run = only_run(runs_json)
    assert run["state"] == "failed" and run["exit_code"] == 2


def test_unserializable_value_names_its_key_and_writes_nothing(runs_json):
    result = run_py("""
        import wandb_cli as wandb
        run = wandb.init()
        run.log({"ok": 1})
        try:
            run.log({"fine": 2, "bad": object()})
        except TypeError as exc:
            print("error:", exc)
        run.finish()
    """)
    assert "cannot log 'bad'" in result.stdout
    rows = history_of(only_run(runs_json))
    assert len(rows) == 1 and rows[0]["ok"] == 1


def test_numpy_scalars_and_nested_dicts(runs_json):
    pytest.importorskip("numpy")
    run_py("""
        import numpy as np, wandb_cli as wandb
        run = wandb.init()
        run.log({"f32": np.float32(0.5), "i64": np.int64(7), "nested": {"a": {"b": 1.5}}})
        run.finish()
    """)
    row = history_of(only_run(runs_json))[0]
    assert row["f32"] == 0.5 and row["i64"] == 7 and row["nested"] == {"a": {"b": 1.5}}


def test_disabled_mode_records_nothing(store_dir):
    result = run_py("""
        import wandb_cli as wandb
        run = wandb.init(config={"a": 1})
        run.log({"x": 1}); run.summary["y"] = 2; run.finish()
        print(run.config["a"])
    """, env={"WBRUN_MODE": "disabled"})
    assert result.stdout.strip() == "1"
    assert not store_dir.exists()


def test_log_before_init_is_a_clear_error():
    result = run_py("import wandb_cli as wandb; wandb.log({'x': 1})", check=False)
    assert "wandb.log() called before wandb.init()" in result.stderr


def test_a_key_that_is_no_string_is_refused_before_anything_is_written(runs_json):
    """log({"a": 1, 1: 2}) wrote the row, then raised AttributeError; now a TypeError, as
    W&B's, with nothing written; and the module-level finish() takes quiet= as W&B's does."""
    program = ("import wandb_cli as wandb\n"
               "run = wandb.init()\n"
               "try:\n    run.log({'a': 1, 1: 2})\nexcept TypeError as exc:\n    print(exc)\n"
               "run.log({'b': 2})\n"
               "wandb.finish(quiet=True)\n")
    shown = run_py(program).stdout
    assert shown == "wandb.log() keys must be strings, not int (1), as in W&B\n"
    rows = history_of(only_run(runs_json))
    assert [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows] == [{"b": 2}]
    assert only_run(runs_json)["state"] == "finished"


@pytest.mark.parametrize("resume", ['"auto"', "True"])
def test_resume_auto_goes_on_with_the_run_that_did_not_finish(runs_json, store_dir, resume):
    """resume="auto" (or True, no ID): the run the last such init() left crashed is resumed
    (W&B's wandb-resume.json, same place); once a run finishes well, the next starts anew."""
    program = f"""
        import os, sys
        import wandb_cli as wandb
        run = wandb.init(resume={resume})
        print(run.id, run.resumed)
        run.log({{"x": 1}})
        if sys.argv[-1] == "crash":
            os._exit(3)
        run.finish()
    """
    crash = subprocess.run([sys.executable, "-c", textwrap.dedent(program), "crash"],
                           capture_output=True, text=True, timeout=60)
    first, resumed = crash.stdout.split()
    assert (crash.returncode, resumed) == (3, "False")
    again = run_py(program).stdout.split()
    assert again == [first, "True"]
    assert not (store_dir / "wandb-resume.json").exists()  # it finished: forgotten
    fresh = run_py(program).stdout.split()
    assert fresh[0] != first and fresh[1] == "False"
    runs = {run["id"]: run for run in runs_json()}
    assert len(runs) == 2 and [row["_step"] for row in history_of(runs[first])] == [0, 1]


def test_resume_auto_beside_a_live_run_starts_anew(runs_json, store_dir, tmp_path):
    """Two processes with resume="auto" in one folder: the second, finding the remembered
    run still going, starts its own (it died of RunExists)."""
    import time

    gate = tmp_path / "go"
    first = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import os, time, wandb_cli as wandb
        run = wandb.init(resume="auto")
        print(run.id, flush=True)
        while not os.path.exists({str(gate)!r}):
            time.sleep(0.05)
        run.finish()
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None
        live_id = first.stdout.readline().split()[0]
        deadline = time.monotonic() + 30
        while not (store_dir / "wandb-resume.json").exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        second = run_py("import wandb_cli as wandb\nrun = wandb.init(resume='auto')\n"
                        "print(run.id, run.resumed)\nrun.finish()\n").stdout.split()
        assert second[0] != live_id and second[1] == "False"
    finally:
        gate.touch()
        first.wait(timeout=60)
    assert sorted(run["state"] for run in runs_json()) == ["finished", "finished"]


def test_resume_through_init(runs_json):
    run_py("import wandb_cli as w; r = w.init(id='res00001'); r.log({'x': 1}); r.finish()")
    run_py("import wandb_cli as w; r = w.init(id='res00001', resume='allow'); r.log({'x': 2}); r.finish()")
    rows = history_of(only_run(runs_json))
    assert [(r["_step"], r["x"]) for r in rows] == [(0, 1), (1, 2)]
    assert rows[1]["_runtime"] >= rows[0]["_runtime"]


def test_every_returned_log_is_on_disk_before_kill_9(runs_json):
    proc = subprocess.Popen([sys.executable, "-u", "-c", textwrap.dedent("""
        import wandb_cli as wandb
        run = wandb.init(id="durable1")
        i = 0
        while True:
            run.log({"i": i})
            print(i, flush=True)
            i += 1
    """)], stdout=subprocess.PIPE, text=True)
    seen = -1
    for line in proc.stdout:
        seen = int(line)
        if seen >= 2000:
            break
    proc.kill()
    proc.wait()
    run = only_run(runs_json)
    assert run["state"] == "crashed"
    logged = [r["i"] for r in history_of(run)]
    assert logged[: seen + 1] == list(range(seen + 1))


def test_sys_exit_codes_decide_the_state(runs_json):
    failed = run_py("import sys, wandb_cli as w\nw.init(id='exit0003')\nsys.exit(3)\n", check=False)
    assert failed.returncode == 3
    with_block = run_py("import sys, wandb_cli as w\nwith w.init(id='exit0000'):\n    sys.exit(0)\n")
    assert with_block.returncode == 0
    states = {r["id"]: (r["state"], r["exit_code"]) for r in runs_json()}
    assert states == {"exit0003": ("failed", 3), "exit0000": ("finished", 0)}


def test_a_running_run_cannot_be_resumed_twice(runs_json):
    proc = subprocess.Popen([sys.executable, "-c", "import time, wandb_cli as w\n"
                             "w.init(id='twice001'); print('up', flush=True); time.sleep(30)"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "up\n"
        second = run_py("import wandb_cli as w\nw.init(id='twice001', resume='allow')", check=False)
        assert second.returncode != 0 and "is still running" in second.stderr
    finally:
        proc.kill()
        proc.wait()


def test_a_forked_child_exiting_does_not_end_the_parents_run(runs_json):
    result = run_py("""
        import os, sys, wandb_cli as wandb
        from pathlib import Path
        from wandb_cli.store.layout import Store
        run = wandb.init(id="fork0001")
        run.log({"x": 1})
        pid = os.fork()
        if pid == 0:
            sys.exit(0)  # runs the atexit hooks inherited from the parent
        os.waitpid(pid, 0)
        print(Store(Path(os.environ["WBRUN_DIR"])).find("fork0001").state)
        run.log({"x": 2})
        run.finish()
    """)
    assert result.stdout.strip() == "running"
    run = only_run(runs_json)
    assert run["state"] == "finished" and run["summary"] == {"x": 2}
