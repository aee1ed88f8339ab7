"""The wrapper with real child processes: examples, exit codes, signals, kill -9, output."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import EXAMPLES, read_jsonl, wbrun_cmd
from helpers import PtyProcess, only_run, pid_running


def run_dir_of(store: Path, run_id: str) -> Path:
    claim = json.loads((store / ".wbrun" / "ids" / run_id).read_text())
    if not claim.get("dir"):  # being created: the claim says who creates it, not yet where
        raise KeyError("dir")
    return store / claim["dir"]


def test_print_example_becomes_history(wbrun, runs_json, store_dir):
    result = wbrun("-p", "demo", "-c", "lr=0.02", "-c", "name=adam", "--",
                   sys.executable, str(EXAMPLES / "train_print.py"), check_code=0)
    assert "epoch=9" in result.stdout
    run = only_run(runs_json)
    assert run["state"] == "finished" and run["exit_code"] == 0
    assert run["project"] == "demo"
    assert run["config"] == {"lr": 0.02, "name": "adam"}
    history = read_jsonl(Path(run["dir"]) / "files" / "wandb-history.jsonl")
    assert [row["_step"] for row in history] == list(range(10))
    assert [row["epoch"] for row in history] == list(range(10))
    printed = [line for line in result.stdout.splitlines() if line.startswith("epoch=")]
    for row, line in zip(history, printed):
        assert line == f"epoch={row['epoch']}, accuracy={row['accuracy']:.2f}, loss={row['loss']:.1f}"
        assert row["_runtime"] >= 0 and row["_timestamp"] > 1.7e9
    assert run["summary"] == {k: history[-1][k] for k in ("epoch", "accuracy", "loss")}
    output = (Path(run["dir"]) / "files" / "output.log").read_text()
    assert output.splitlines() == printed
    assert "Run history:" in result.stderr and "Run summary:" in result.stderr
    assert f"/demo/{run['id']}" in result.stderr


def test_printed_underscore_keys_stay_out_of_the_summary(wbrun, runs_json, store_dir):
    """A printed `_step=100` is the history's business (ours wins there), never the
    summary's, as for log() and `wbrun log`; the summary is the implied one."""
    program = 'print("_step=100 loss=0.5 _runtime=3 _x=1"); print("loss=0.25 acc=1")'
    wbrun("-q", "--", sys.executable, "-c", program, check_code=0)
    run = only_run(runs_json)
    assert run["summary"] == {"loss": 0.25, "acc": 1}
    summary = json.loads((Path(run["dir"]) / "files" / "wandb-summary.json").read_text())
    assert summary == {"loss": 0.25, "acc": 1}
    history = read_jsonl(Path(run["dir"]) / "files" / "wandb-history.jsonl")
    assert [row["_step"] for row in history] == [0, 1] and history[0]["_x"] == 1


def test_printed_metrics_follow_the_runs_metric_definitions(wbrun, runs_json):
    """A resumed run whose program had `define_metric(..., summary="max")`: printed values
    fold into the summary as logged ones do (the summary {"max": ...}, not the last value)."""
    sdk = ('import wandb; run = wandb.init(); run.define_metric("loss", summary="max"); '
           'run.log({"loss": 0.1}); run.finish()')
    wbrun("-q", "--id", "defmetr1", "--", sys.executable, "-c", sdk, check_code=0)
    wbrun("-q", "--id", "defmetr1", "--resume", "allow", "--", sys.executable, "-c",
          'print("loss=0.5 acc=2"); print("loss=0.25")', check_code=0)
    assert only_run(runs_json)["summary"] == {"loss": {"max": 0.5}, "acc": 2}


def test_a_resumed_run_starts_from_its_summary(runs_json):
    """resume="must": run.summary holds the earlier values, and define_metric's max/min go
    on from them (they started again: acc's max became 0.1 against 0.95 before)."""
    first = ('import wandb_cli as wandb\n'
             'run = wandb.init(id="resumsum")\n'
             'run.define_metric("acc", summary="max"); run.define_metric("loss", summary="min")\n'
             'run.log({"acc": 0.95, "loss": 0.5}); run.summary["best"] = 7; run.finish()\n')
    second = ('import wandb_cli as wandb\n'
              'run = wandb.init(id="resumsum", resume="must")\n'
              'print(run.summary["best"], run.summary["acc"])\n'
              'run.define_metric("acc", summary="max"); run.define_metric("loss", summary="min")\n'
              'run.log({"acc": 0.1, "loss": 2.0}); run.finish()\n')
    subprocess.run([sys.executable, "-c", first], check=True, timeout=60)
    shown = subprocess.run([sys.executable, "-c", second], check=True, timeout=60,
                           capture_output=True, text=True).stdout
    assert shown == "7 {'max': 0.95}\n"
    assert only_run(runs_json)["summary"] == {"acc": {"max": 0.95}, "loss": {"min": 0.5}, "best": 7}


def test_wrapper_config_wins_over_the_programs_defaults(wbrun, runs_json):
    """`wbrun -c lr=0.01 -- python train.py` where train.py says init(config={"lr": 0.1}):
    the program runs with 0.01 (it ran with 0.1, and the run recorded 0.1), as with a W&B
    sweep; nested dicts merge key by key; the program's other keys stay."""
    program = ('import wandb\n'
               'run = wandb.init(config={"lr": 0.1, "opt": "adam", "model": {"depth": 4, "width": 64}})\n'
               'print(wandb.config.lr, run.config["model"])\n'
               'run.finish()\n')
    shown = wbrun("-q", "-c", "lr=0.01", "-c", 'model={"depth": 8}', "--", sys.executable, "-c",
                  program, check_code=0).stdout
    assert shown == "0.01 {'depth': 8, 'width': 64}\n"
    assert only_run(runs_json)["config"] == {"lr": 0.01, "opt": "adam",
                                             "model": {"depth": 8, "width": 64}}


@pytest.mark.parametrize("ending, code", [
    ("wandb.finish(exit_code=2)", 2),
    ("try:\n    with wandb.init() as run2:\n        raise ValueError('boom')\nexcept ValueError:\n    pass", 1),
    ("run.finish()", 0)])
def test_a_failure_the_program_reports_stands_when_it_exits_0(wbrun, runs_json, ending, code):
    """finish(exit_code=2), or an exception out of `with wandb.init()`, then exit 0: the
    joined run is failed with that code, as alone (it read finished 0); wbrun exits 0."""
    if "with wandb.init()" in ending:  # the block is the joined run itself
        program = f"import wandb\n{ending}\n"
    else:
        program = f"import wandb\nrun = wandb.init()\nrun.log({{'a': 1}})\n{ending}\n"
    wbrun("-q", "--", sys.executable, "-c", program, check_code=0)
    run = only_run(runs_json)
    assert (run["state"], run["exit_code"]) == ("failed" if code else "finished", code)


def test_init_with_another_id_under_the_wrapper_resumes_that_run(wbrun, runs_json):
    """The checkpoint-resume pattern, `init(id="realone1", resume="must")`, under `wbrun --`:
    that run goes on (it was ignored: the program got the wrapper's run, resumed False), and
    resume="must" for an ID that does not exist is an error, as alone and in W&B."""
    subprocess.run([sys.executable, "-c", "import wandb_cli as w; r = w.init(id='realone1'); "
                    "r.log({'loss': 5}); r.finish()"], check=True, timeout=60)
    program = ('import wandb\n'
               'run = wandb.init(id="realone1", resume="must")\n'
               'print(run.id, run.resumed, run.step)\n'
               'run.log({"loss": 4}); run.finish()\n')
    result = wbrun("-q", "--id", "wrapper1", "--", sys.executable, "-c", program, check_code=0)
    assert result.stdout == "realone1 True 1\n"
    assert "init(id='realone1') under `wbrun --`" in result.stderr
    runs = {run["id"]: run for run in runs_json()}
    assert set(runs) == {"realone1", "wrapper1"} and runs["realone1"]["summary"] == {"loss": 4}
    history = read_jsonl(Path(runs["realone1"]["dir"]) / "files" / "wandb-history.jsonl")
    assert [(row["_step"], row["loss"]) for row in history] == [(0, 5), (1, 4)]
    missing = wbrun("-q", "--", sys.executable, "-c",
                    'import wandb; wandb.init(id="nosuchid", resume="must")')
    assert missing.returncode == 1 and "no run with ID 'nosuchid' to resume" in missing.stderr
    # the wrapper's own ID (WANDB_RUN_ID style) still joins the wrapper's run
    joined = wbrun("-q", "--id", "wrapper2", "--", sys.executable, "-c",
                   'import wandb; print(wandb.init(id="wrapper2").id)', check_code=0)
    assert joined.stdout == "wrapper2\n" and "recorded as that run" not in joined.stderr


def test_wrapper_config_is_locked_for_this_invocation_only(wbrun, runs_json):
    """A program that does init(config=cfg) then config.update(cfg) under `-c lr=0.01`:
    the update of lr is ignored with a warning (it raised ConfigError), as for a W&B sweep's
    keys; resumed later without -c, the program's own values apply (the earlier life's
    0.01 won)."""
    program = ('import sys, wandb\n'
               'cfg = {"lr": float(sys.argv[1]), "warm": int(sys.argv[2])}\n'
               'run = wandb.init(config=cfg)\n'
               'wandb.config.update(cfg)\n'
               'print(run.config["lr"], run.config["warm"])\n'
               'run.finish()\n')
    first = wbrun("-q", "--id", "cfglock1", "-c", "lr=0.01", "--", sys.executable, "-c", program,
                  "0.1", "5", check_code=0)
    assert first.stdout == "0.01 5\n"
    assert "config key 'lr' was set by `wbrun -c`" in first.stderr
    again = wbrun("-q", "--id", "cfglock1", "--resume", "must", "--", sys.executable, "-c", program,
                  "0.2", "9", check_code=0)
    assert again.stdout == "0.2 9\n" and "was set by" not in again.stderr
    assert only_run(runs_json)["config"] == {"lr": 0.2, "warm": 9}


def test_a_program_joining_a_resumed_wrapped_run_reads_its_summary(wbrun, runs_json):
    """`wbrun --id X --resume must -- python second.py`: run.summary holds the first life's
    values and a max summary goes on from them (the joined run started from {})."""
    first = ('import wandb\nrun = wandb.init(); run.define_metric("acc", summary="max")\n'
             'run.log({"acc": 0.95}); run.summary["best"] = 7; run.finish()\n')
    second = ('import wandb\nrun = wandb.init(); run.define_metric("acc", summary="max")\n'
              'print(run.summary["best"]); run.log({"acc": 0.1}); run.finish()\n')
    wbrun("-q", "--id", "joinsum1", "--", sys.executable, "-c", first, check_code=0)
    shown = wbrun("-q", "--id", "joinsum1", "--resume", "must", "--", sys.executable, "-c", second,
                  check_code=0).stdout
    assert shown == "7\n"
    assert only_run(runs_json)["summary"] == {"acc": {"max": 0.95}, "best": 7}


def test_an_exported_wandb_run_id_still_joins_the_wrappers_run(wbrun, runs_json):
    """WANDB_RUN_ID exported for a whole job: init() joins the wrapper's run as before (the
    other-ID path is for an ID the program passes), so -c still applies."""
    program = 'import wandb\nrun = wandb.init(config={"lr": 0.1})\nprint(run.id, run.config["lr"])\n'
    result = wbrun("-q", "--id", "wrapjob1", "-c", "lr=0.01", "--", sys.executable, "-c", program,
                   env={**os.environ, "WANDB_RUN_ID": "slurm123"}, check_code=0)
    assert result.stdout == "wrapjob1 0.01\n"
    assert [run["id"] for run in runs_json()] == ["wrapjob1"]


def test_a_workers_failure_is_not_the_programs(wbrun, runs_json, tmp_path):
    """A multiprocessing worker whose `with wandb.init()` block raises (it joins the wrapper's
    run, as W&B's would the run it was handed) does not make the run failed when the program
    itself exits 0."""
    script = tmp_path / "workers.py"
    script.write_text("import multiprocessing as mp, wandb\n"
                      "def work():\n"
                      "    try:\n"
                      "        with wandb.init() as run:\n"
                      "            run.log({'a': 1}); raise ValueError('worker')\n"
                      "    except ValueError:\n"
                      "        pass\n"
                      "if __name__ == '__main__':\n"
                      "    p = mp.get_context('spawn').Process(target=work); p.start(); p.join()\n")
    wbrun("-q", "--", sys.executable, str(script), check_code=0)
    run = only_run(runs_json)
    assert (run["state"], run["exit_code"]) == ("finished", 0)


def test_sdk_example_inside_wrapper_is_one_run(wbrun, runs_json):
    result = wbrun("-c", "extra=1", "--", sys.executable, str(EXAMPLES / "train.py"), check_code=0)
    run = only_run(runs_json)
    assert run["state"] == "finished"
    assert run["config"] == {"extra": 1, "learning_rate": 0.02, "epochs": 10}
    history = read_jsonl(Path(run["dir"]) / "files" / "wandb-history.jsonl")
    assert [row["epoch"] for row in history] == list(range(10))
    assert set(history[0]) == {"epoch", "accuracy", "loss", "_step", "_runtime", "_timestamp"}
    assert run["summary"]["loss"] == history[-1]["loss"]
    # the printed "epoch 3: ..." lines are output only; the SDK owns the history
    assert "epoch 9:" in result.stdout
    # init(project="examples") names the project the wrapper's user left unset
    assert run["project"] == "examples"
    assert "Run summary:" in result.stderr and f"/examples/{run['id']}" in result.stderr


def test_the_wrappers_choices_win_over_init(wbrun, runs_json, tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import wandb_cli as w\nr = w.init(project='sdkp', name='sdkn', notes='n')\n"
                      "r.log({'x': 1})\nr.finish()\n")
    wbrun("-q", "-p", "mine", "--", sys.executable, str(script), check_code=0)
    run = only_run(runs_json)
    assert (run["project"], run["name"], run["notes"]) == ("mine", "sdkn", "n")


def test_sdk_example_alone(runs_json):
    subprocess.run([sys.executable, str(EXAMPLES / "train.py")], check=True, capture_output=True)
    run = only_run(runs_json)
    assert run["state"] == "finished" and run["project"] == "examples"
    assert run["config"] == {"learning_rate": 0.02, "epochs": 10}
    assert run["summary"]["epoch"] == 9
    meta = json.loads((Path(run["dir"]) / "files" / "wandb-metadata.json").read_text())
    assert meta["program"] == sys.executable and meta["python"]


@pytest.mark.parametrize("code", [0, 3])
def test_exit_code_passes_through(wbrun, runs_json, code):
    result = wbrun("-q", "--", sys.executable, "-c", f"import sys; sys.exit({code})")
    assert result.returncode == code
    assert result.stderr == ""
    run = only_run(runs_json)
    assert run["exit_code"] == code
    assert run["state"] == ("finished" if code == 0 else "failed")


def test_death_by_signal_gives_128_plus_n(wbrun, runs_json):
    result = wbrun("-q", "--", sys.executable, "-c",
                   "import os, signal; os.kill(os.getpid(), signal.SIGTERM)")
    assert result.returncode == 128 + signal.SIGTERM
    assert only_run(runs_json)["state"] == "killed"


def test_uncaught_exception_fails_the_run(wbrun, runs_json):
    result = wbrun("-q", "--", sys.executable, "-c", "raise ValueError('boom')")
    assert result.returncode == 1
    assert "ValueError: boom" in result.stderr
    assert only_run(runs_json)["state"] == "failed"


def test_missing_program_is_a_clear_error_with_the_shells_127(wbrun, runs_json, tmp_path):
    result = wbrun("-q", "--", "no-such-program-xyz")
    assert result.returncode == 127
    assert "cannot run 'no-such-program-xyz'" in result.stderr
    assert "Traceback" not in result.stderr
    run = only_run(runs_json)
    assert (run["state"], run["exit_code"]) == ("failed", 127)
    not_runnable = tmp_path / "data.txt"
    not_runnable.write_text("x")
    assert wbrun("-q", "--", str(not_runnable)).returncode == 126


def test_a_background_process_holding_the_pipes_does_not_keep_the_run_open(wbrun, runs_json):
    # wbrun returns as soon as the command has exited; the background job keeps the pipes
    # (and its output goes on through them, as with the bare command: issue 14 item 2)
    proc = subprocess.Popen(wbrun_cmd("-q", "--", "bash", "-c", "sleep 3 & echo started"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.wait(timeout=15) == 0
    assert only_run(runs_json)["state"] == "finished"
    out, _ = proc.communicate(timeout=30)
    assert out == "started\n"


def test_a_bad_interval_is_refused_before_any_run_exists(wbrun, store_dir):
    assert wbrun("--system-interval", "0.01", "--", "true").returncode == 2
    assert list(store_dir.glob("run-*")) == []


def test_a_tag_over_64_characters_or_empty_is_refused_before_any_run_exists(wbrun, store_dir):
    """`-t` keeps W&B's rule for a run's tags, as init(tags=) does: 1-64 characters."""
    for bad in ("x" * 65, ""):
        result = wbrun("-q", "-t", "fine", "-t", bad, "--", "echo", "ran")
        assert result.returncode == 2, bad
        assert result.stderr == f"wbrun: error: bad tag '{bad}': tags must be between 1 and 64 characters\n"
        assert "ran" not in result.stdout
    assert list(store_dir.glob("run-*")) == []
    wbrun("-q", "--id", "tagged01", "-t", "x" * 64, "-t", "lr=0.1 bs 32", "--", "true", check_code=0)
    assert json.loads(wbrun("runs", "ls", "--format", "json").stdout)[0]["tags"] == ["x" * 64, "lr=0.1 bs 32"]


def test_a_child_reading_the_terminal_while_stdout_is_piped_is_in_the_foreground(tmp_path):
    """stdin a terminal, stdout a pipe: the child must own the terminal (else SIGTTIN)."""
    script = "import sys; print('got', sys.stdin.readline().strip(), flush=True)"
    # wbrun with stdout piped into cat, on a terminal
    term = PtyProcess(["/bin/sh", "-c", " ".join([*map(__import__("shlex").quote, wbrun_cmd(
        "-q", "--", sys.executable, "-c", script)), "| cat"])])
    time.sleep(1.0)
    term.send(b"hello\n")
    term.read_until(b"got hello")
    term.wait(timeout=1)  # a child stopped by SIGTTIN hangs: the wait kills it
    output = term.output
    assert b"got hello" in output


def _start(args: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen(wbrun_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def _wait_for_line(path: Path, needle: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and needle in path.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} never appeared in {path}")


COUNT_SIGINTS = """
import signal, sys, time
count = 0
def handler(signum, frame):
    global count
    count += 1
    print(f"sigint {count}", flush=True)
signal.signal(signal.SIGINT, handler)
print("ready", flush=True)
deadline = time.time() + 1.5
while time.time() < deadline:
    time.sleep(0.05)
sys.exit(130 if count else 0)
"""


def test_sigint_to_wbrun_reaches_child_once_and_run_is_killed(tmp_path, runs_json, store_dir):
    proc = _start(["-q", "--id", "sigint01", "--", sys.executable, "-c", COUNT_SIGINTS])
    out = store_dir
    _wait_for_line(run_dir_of_wait(out, "sigint01") / "files" / "output.log", "ready")
    proc.send_signal(signal.SIGINT)
    stdout, _ = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert stdout.count("sigint") == 1
    run = only_run(runs_json)
    assert run["state"] == "killed"


def run_dir_of_wait(store: Path, run_id: str, timeout: float = 20.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return run_dir_of(store, run_id)
        except (FileNotFoundError, ValueError, KeyError):
            time.sleep(0.05)
    raise AssertionError(f"run {run_id} never appeared")


def test_ctrl_c_on_a_terminal_reaches_child_once(tmp_path, runs_json, store_dir):
    """Under a real pseudo-terminal, Ctrl+C (byte 0x03) is delivered to the child once."""
    term = PtyProcess(wbrun_cmd("-q", "--id", "ctrlc001", "--", sys.executable, "-c",
                                COUNT_SIGINTS.replace("1.5", "3")))
    assert term.read_until(b"ready"), term.output
    term.send(b"\x03")
    code = term.wait()
    output = term.output
    assert code == 130, output
    assert output.count(b"sigint") == 1, output
    assert only_run(runs_json)["state"] == "killed"


def test_kill_9_of_wbrun_kills_child_and_run_reads_crashed(tmp_path, runs_json, store_dir):
    marker = tmp_path / "child.pid"
    script = (f"import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); "
              "print('step=1', flush=True); time.sleep(60)")
    proc = _start(["-q", "--id", "kill9001", "--", sys.executable, "-c", script])
    run_dir = run_dir_of_wait(store_dir, "kill9001")
    _wait_for_line(run_dir / "files" / "output.log", "step=1")
    child_pid = int(marker.read_text())
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and pid_running(child_pid):
        time.sleep(0.05)
    assert not pid_running(child_pid), "the child outlived wbrun"
    run = only_run(runs_json)
    assert run["state"] == "crashed"
    history = read_jsonl(run_dir / "files" / "wandb-history.jsonl")
    assert history == [{"step": 1, "_step": 0, "_runtime": history[0]["_runtime"],
                        "_timestamp": history[0]["_timestamp"]}]


def test_sigterm_to_wbrun_is_forwarded(tmp_path, runs_json, store_dir):
    script = "import time; print('ready', flush=True); time.sleep(30)"
    proc = _start(["-q", "--id", "sigterm1", "--", sys.executable, "-c", script])
    _wait_for_line(run_dir_of_wait(store_dir, "sigterm1") / "files" / "output.log", "ready")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    assert proc.returncode == 128 + signal.SIGTERM
    assert only_run(runs_json)["state"] == "killed"


def test_output_log_collapses_carriage_returns_and_keeps_stderr(wbrun, runs_json):
    script = ("import sys\n"
              "for i in range(5): sys.stdout.write(f'\\rprogress {i*25}%'); sys.stdout.flush()\n"
              "print()\nprint('to stderr', file=sys.stderr)\nsys.stdout.write('no newline')\n")
    result = subprocess.run(wbrun_cmd("-q", "--", sys.executable, "-c", script), capture_output=True)
    assert result.returncode == 0
    assert b"\rprogress 75%\rprogress 100%\n" in result.stdout  # every redraw passed through
    assert result.stderr == b"to stderr\n"
    lines = (Path(only_run(runs_json)["dir"]) / "files" / "output.log").read_text().splitlines()
    # stdout and stderr are two pipes: their lines may interleave either way
    assert sorted(lines) == ["no newline", "progress 100%", "to stderr"]
    assert lines.index("progress 100%") < lines.index("no newline")


def test_no_capture_keeps_printed_metrics_out_of_history(wbrun, runs_json):
    wbrun("-q", "--no-capture", "--", sys.executable, "-c", "print('loss=1.5')", check_code=0)
    run = only_run(runs_json)
    assert run["summary"] == {}
    assert not (Path(run["dir"]) / "files" / "wandb-history.jsonl").read_text()


def test_wbrun_log_from_a_shell_child(wbrun, runs_json):
    script = "wbrun_log() { \"$PY\" -m wandb_cli log \"$@\"; }; wbrun_log loss=0.5 acc=0.9 && " \
             "wbrun_log loss=0.25 note=hello && wbrun_log --step 10 loss=0.125"
    result = wbrun("-q", "--", "bash", "-c", script, env={"PY": sys.executable}, check_code=0)
    run = only_run(runs_json)
    history = read_jsonl(Path(run["dir"]) / "files" / "wandb-history.jsonl")
    assert [(r["_step"], r["loss"]) for r in history] == [(0, 0.5), (1, 0.25), (10, 0.125)]
    assert history[1]["note"] == "hello"
    assert run["summary"] == {"loss": 0.125, "acc": 0.9, "note": "hello"}
    assert result.stderr == ""


def test_wbrun_log_outside_a_run_fails_with_2(wbrun):
    result = wbrun("log", "loss=1")
    assert result.returncode == 2
    assert "not inside a run" in result.stderr


def test_wbrun_log_into_a_run_that_has_ended_is_refused(wbrun, runs_json, store_dir):
    """A WBRUN_RUN_DIR left over in the shell: the finished run's history stays as it was."""
    wbrun("-q", "--id", "ended001", "--", "sh", "-c", "wbrun log loss=1 || exit 9", check_code=0)
    run = only_run(runs_json)
    history = Path(run["dir"]) / "files" / "wandb-history.jsonl"
    before = history.read_bytes()
    late = wbrun("log", "loss=2", env={**os.environ, "WBRUN_RUN_DIR": run["dir"]})
    assert (late.returncode, late.stdout) == (1, "")
    assert late.stderr.startswith("wbrun: error: run ended001 has ended (finished): ")
    assert "wbrun --id ended001 --resume allow" in late.stderr
    assert history.read_bytes() == before and only_run(runs_json)["summary"] == {"loss": 1}


def test_concurrent_starts_get_distinct_ids_and_names(runs_json):
    procs = [_start(["-q", "-p", "race", "--", sys.executable, "-c", "pass"]) for _ in range(20)]
    for proc in procs:
        proc.communicate(timeout=60)
        assert proc.returncode == 0
    runs = runs_json()
    assert len(runs) == 20
    assert len({r["id"] for r in runs}) == 20
    assert len({r["name"] for r in runs}) == 20
    assert sorted(int(r["name"].rsplit("-", 1)[1]) for r in runs) == list(range(1, 21))
    assert all(r["state"] == "finished" for r in runs)


def test_nan_and_infinity_round_trip_through_the_sdk(tmp_path, runs_json):
    script = ("import wandb_cli as wandb\n"
              "run = wandb.init(config={'a': float('nan')})\n"
              "run.log({'x': float('nan'), 'y': float('inf'), 'z': float('-inf'), 'n': None})\n"
              "run.finish()\n")
    subprocess.run([sys.executable, "-c", script], check=True)
    run = only_run(runs_json)
    from wandb_cli.store import jsonio

    history = list(jsonio.iter_jsonl(Path(run["dir"]) / "files" / "wandb-history.jsonl"))
    assert math.isnan(history[0]["x"]) and history[0]["y"] == math.inf and history[0]["z"] == -math.inf
    assert history[0]["n"] is None
    summary = jsonio.read_json(Path(run["dir"]) / "files" / "wandb-summary.json")
    assert math.isnan(summary["x"]) and summary["y"] == math.inf
    assert math.isnan(jsonio.read_json(Path(run["dir"]) / "files" / "config.json")["a"])


def test_dates_and_uuids_beside_a_nan_keep_the_summary(wbrun, runs_json):
    """A datetime or UUID in the summary and a NaN anywhere in it: the JSON fallback that
    writes NaN wrote no datetime (finish() raised, the summary was lost, the run failed)."""
    script = ("import datetime, uuid, wandb\n"
              "run = wandb.init()\n"
              "run.log({'when': datetime.datetime(2026, 1, 2, 3, 4, 5), 'u': uuid.UUID(int=7)})\n"
              "run.log({'loss': float('nan'), 'big': 2**70})\n"
              "run.finish()\n")
    wbrun("-q", "--", sys.executable, "-c", script, check_code=0)
    run = only_run(runs_json)
    assert (run["state"], run["exit_code"]) == ("finished", 0)
    from wandb_cli.store import jsonio

    summary = jsonio.read_json(Path(run["dir"]) / "files" / "wandb-summary.json")
    assert summary["when"] == "2026-01-02T03:04:05" and summary["u"] == str(uuid.UUID(int=7))
    assert math.isnan(summary["loss"]) and summary["big"] == 2**70


def test_options_before_a_subcommand_are_refused_not_run_as_a_program(wbrun, store_dir, tmp_path):
    """`wbrun --dir S runs ls` wrapped a program named `runs`: a failed run, exit 127."""
    from wandb_cli.cli.fast import SUBCOMMANDS

    other = tmp_path / "other"
    for name in SUBCOMMANDS:
        assert wbrun(name, "--help").returncode == 0, name  # each is a real subcommand
        result = wbrun("--dir", str(other), "-q", name, "ls")
        assert result.returncode == 2, name
        assert result.stderr == (f"wbrun: error: '{name}' is a wbrun command: its options go after "
                                 f"it (wbrun {name} ... --dir DIR); to run a program named "
                                 f"'{name}', put -- before it\n")
    assert not other.exists() and not list(store_dir.glob("run-*"))
    # with --, a program of that name is run as asked (here: none exists, exit 127)
    assert wbrun("--dir", str(other), "-q", "--", "runs").returncode == 127


def test_a_command_killed_by_sigkill_reads_killed_137(wbrun, runs_json):
    """As the kernel's OOM killer ends a training job: killed, exit code 137 (README)."""
    result = wbrun("-q", "--", sys.executable, "-c",
                   "import os, signal; print('loss=1', flush=True); os.kill(os.getpid(), signal.SIGKILL)")
    assert result.returncode == 137
    run = only_run(runs_json)
    assert (run["state"], run["exit_code"], run["summary"]) == ("killed", 137, {"loss": 1})
