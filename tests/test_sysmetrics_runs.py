"""The sampler beside real runs: wrapped and SDK-only, interval, --no-system, the views."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import read_jsonl

# Busy for 1.2 s of wall time, then writes the share of a core it actually got (CPU seconds
# over wall seconds, in %): the sampler is checked against that, not against a fixed
# percentage the loaded machine may not spare.
BUSY = ("import time\nt = time.time()\nc = time.process_time()\nwhile time.time() - t < 1.2: pass\n"
        "open('share.txt', 'w').write(str(100 * (time.process_time() - c) / (time.time() - t)))\n")


def busy_share() -> float:
    """The busy child's average share of a core (%), as it measured itself."""
    return float(Path("share.txt").read_text())


def saw_the_busy_child(cpu_max: float) -> bool:
    """The sampler's busiest window shows at least half the child's average share (some
    window holds at least the average; half leaves room for a window that straddles the
    child's start or end)."""
    share = busy_share()
    return share > 0 and cpu_max >= share / 2


def events_of(run: dict) -> list[dict]:
    path = Path(run["dir"]) / "files" / "wandb-events.jsonl"
    return read_jsonl(path) if path.exists() else []


def test_a_wrapped_busy_child_is_sampled(wbrun, runs_json):
    wbrun("-q", "--system-interval", "0.2", "--", sys.executable, "-c", BUSY, check_code=0)
    rows = events_of(runs_json()[0])
    assert len(rows) >= 4  # start, every 0.2 s, end
    assert all("_timestamp" in r and "_runtime" in r and "system.memory_percent" in r for r in rows)
    assert saw_the_busy_child(max(r.get("system.cpu", 0) for r in rows))
    assert [r["_runtime"] for r in rows] == sorted(r["_runtime"] for r in rows)
    if not os.path.exists("/dev/nvidiactl"):  # no NVIDIA driver: no GPU keys at all
        assert not any(key.startswith("system.gpu") for r in rows for key in r)


def test_even_a_short_run_has_two_rows_and_the_env_sets_the_interval(wbrun, runs_json):
    wbrun("-q", "--", sys.executable, "-c", "pass", env={"WBRUN_SYSTEM_INTERVAL": "30"},
          check_code=0)
    assert len(events_of(runs_json()[0])) == 2


def test_no_system_records_no_samples(wbrun, runs_json):
    wbrun("-q", "--no-system", "--", sys.executable, "-c", "pass", check_code=0)
    assert events_of(runs_json()[0]) == []
    wbrun("-q", "--", sys.executable, "-c", "pass", env={"WBRUN_SYSTEM": "0"}, check_code=0)
    assert all(events_of(run) == [] for run in runs_json())


def test_bad_interval_is_refused(wbrun):
    for value in ("0.05", "-1", "soon"):
        result = wbrun("--system-interval", value, "--", "true")
        assert result.returncode == 2 and "interval" in result.stderr, value


def test_an_sdk_only_run_is_sampled_too(runs_json):
    script = ("import time, wandb_cli as wandb\nrun = wandb.init()\n" + BUSY +
              "run.log({'x': 1})\nrun.finish()\n")
    subprocess.run([sys.executable, "-c", script], check=True,
                   env={**__import__("os").environ, "WBRUN_SYSTEM_INTERVAL": "0.2"})
    rows = events_of(runs_json()[0])
    assert len(rows) >= 3 and saw_the_busy_child(max(r.get("system.cpu", 0) for r in rows))


def test_show_and_system_views(wbrun, runs_json):
    wbrun("-q", "--system-interval", "0.2", "--id", "sys00001", "--", sys.executable, "-c", BUSY,
          check_code=0)
    shown = json.loads(wbrun("runs", "show", "sys00001", "-f", "json", check_code=0).stdout)
    cpu = shown["system"]["system.cpu"]
    assert cpu["min"] <= cpu["mean"] <= cpu["max"] and saw_the_busy_child(cpu["max"])
    table = wbrun("runs", "show", "sys00001", check_code=0).stdout
    assert "System" in table and "system.cpu" in table
    rows = json.loads(wbrun("runs", "system", "sys00001", "-f", "json", check_code=0).stdout)
    assert rows == events_of(runs_json()[0])
    csv_text = wbrun("runs", "system", "sys00001", "-f", "csv", check_code=0).stdout
    assert csv_text.splitlines()[0].startswith("_runtime,_timestamp,") and len(csv_text.splitlines()) == len(rows) + 1


def test_the_sdk_sampler_process_never_outlives_its_program(runs_json):
    import psutil

    program = subprocess.Popen(
        [sys.executable, "-c", "import time, wandb_cli as w; w.init(); print('up', flush=True); "
         "time.sleep(60)"], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "WBRUN_SYSTEM_INTERVAL": "0.2"})
    assert program.stdout.readline() == "up\n"
    deadline = time.monotonic() + 10
    samplers = []
    while not samplers and time.monotonic() < deadline:
        samplers = [p for p in psutil.Process(program.pid).children()
                    if "wandb_cli.runner.sampler" in _cmdline(p)]
        time.sleep(0.05)
    assert len(samplers) == 1
    program.send_signal(signal.SIGKILL)
    program.wait()
    samplers[0].wait(timeout=10)  # ended by its stdin's EOF, with a last sample
    assert not samplers[0].is_running()
    run = runs_json()[0]
    assert run["state"] == "crashed" and len(events_of(run)) >= 2


def _cmdline(process) -> str:
    import psutil

    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # a short-lived child (the metadata thread's git) already gone
        return ""
