"""Faults found by an outside attack (issue 14): live runs judged dead from another host or
container, background jobs of the wrapped command, Ctrl+Z, unbounded input, regexes that
backtrack, deep JSON, long names, a thousand init()/finish(), a wall clock stepped back, the
runtime of a resumed run, a store shared by two users.  Real processes throughout: other
hosts are UTS namespaces with a skewed wall clock in the program under test, containers are
pid namespaces, terminals are pseudo-terminals, users are real accounts."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers_faults import (
    fake_clock_env,
    history_rows,
    in_other_pid_namespace,
    need_unshare,
    on_other_host,
    run_doc,
    ticking_program,
    wait_for_rows,
    wbrun_argv,
)

STEPS = 150


# --- 1. liveness across hosts and containers -----------------------------------------------
@pytest.mark.slow
def test_another_host_with_a_clock_ahead_cannot_delete_or_misjudge_a_live_run(tmp_path, store_dir):
    need_unshare("-u")
    recorder = subprocess.Popen(wbrun_argv("-q", "--no-system", "--id", "live0001", "--",
                                           *ticking_program(STEPS, 0.04)),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    folder, _ = run_doc(store_dir, "live0001")
    wait_for_rows(folder, 5)
    host_b = fake_clock_env(tmp_path, shift_s=90)  # B's clock is 90 s ahead of A's

    listed = subprocess.run(on_other_host(wbrun_argv("runs", "ls", "-f", "json")),
                            env=host_b, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert [r["state"] for r in json.loads(listed.stdout)] == ["running"]
    deleted = subprocess.run(on_other_host(wbrun_argv("runs", "delete", "--yes", "live0001")),
                             env=host_b, capture_output=True, text=True, timeout=60)
    assert deleted.returncode == 1 and "is running" in deleted.stderr
    assert folder.is_dir() and not (store_dir / ".trash").exists()

    assert recorder.wait(timeout=120) == 0, recorder.stderr.read()
    doc = json.loads((folder / "files" / "wbrun-run.json").read_text())
    assert doc["state"] == "finished"
    assert [r["i"] for r in history_rows(folder)] == list(range(STEPS))  # not one step lost


@pytest.mark.slow
def test_a_container_with_the_same_host_name_sees_a_live_run_and_stops_it(tmp_path, store_dir, wbrun):
    need_unshare("-p", "-f", "--mount-proc")
    # the recorder in a pid namespace of its own: its pid means nothing out here
    recorder = subprocess.Popen(in_other_pid_namespace(wbrun_argv(
        "-q", "--no-system", "--id", "cont0001", "--", *ticking_program(400, 0.04))),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    folder, doc = run_doc(store_dir, "cont0001")
    wait_for_rows(folder, 5)
    assert doc["pid"] == 1 and doc["host"] == os.uname().nodename

    shown = json.loads(wbrun("runs", "show", "cont0001", "-f", "json", check_code=0).stdout)
    assert shown["state"] == "running"
    refused = wbrun("runs", "delete", "--yes", "cont0001")
    assert refused.returncode == 1 and "is running" in refused.stderr
    stopped = wbrun("runs", "stop", "cont0001", "--timeout", "5", check_code=0)
    assert "stopped cont0001" in stopped.stdout and "killed" in stopped.stdout
    recorder.wait(timeout=60)
    rows = history_rows(folder)
    assert [r["i"] for r in rows] == list(range(len(rows))) and len(rows) >= 5


def test_a_run_judged_by_heartbeat_alone_is_not_deleted_or_stopped_without_force(store_dir, wbrun):
    wbrun("-q", "--no-system", "--id", "far00001", "--", "true", check_code=0)
    folder, doc = run_doc(store_dir, "far00001")
    # As another machine's recorder leaves it on a file system whose locks do not travel:
    # running, another host, another kernel, a heartbeat 10 minutes old by our clock.
    doc.update(state="running", host="elsewhere", boot_id="another-kernel", ended=None,
               heartbeat=time.time() - 600)
    (folder / "files" / "wbrun-run.json").write_text(json.dumps(doc))

    shown = json.loads(wbrun("runs", "show", "far00001", "-f", "json", check_code=0).stdout)
    assert shown["state"] == "crashed"
    for command in (("runs", "delete", "--yes", "far00001"), ("runs", "stop", "far00001")):
        refused = wbrun(*command)
        assert refused.returncode == 1 and "may still be running on host 'elsewhere'" in refused.stderr
        assert "--force" in refused.stderr
    assert folder.is_dir() and not (store_dir / ".trash").exists()
    wbrun("runs", "delete", "--yes", "--force", "far00001", check_code=0)
    assert not folder.exists()


# --- 4. a config file without end -------------------------------------------------------------
def test_config_file_is_capped_at_one_mib(tmp_path, store_dir, wbrun):
    from wandb_cli.cli.values import MAX_CONFIG_FILE_BYTES

    assert MAX_CONFIG_FILE_BYTES == 1024 * 1024
    result = wbrun("--config-file", "/dev/zero", "--", "true", timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "wbrun: error: --config-file /dev/zero is larger than 1,048,576 bytes; a config file "
        "is at most 1 MiB"]
    exact = tmp_path / "big.json"
    exact.write_text(json.dumps({"pad": "x" * (MAX_CONFIG_FILE_BYTES - 20)}).ljust(MAX_CONFIG_FILE_BYTES))
    assert exact.stat().st_size == MAX_CONFIG_FILE_BYTES
    wbrun("-q", "--no-system", "--config-file", str(exact), "--", "true", check_code=0)
    exact.write_text(exact.read_text() + " ")
    assert wbrun("--config-file", str(exact), "--", "true").returncode == 2
    assert not store_dir.exists() or len(list(store_dir.glob("run-*"))) == 1


# --- 5. regexes in linear time -------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ("--filter", "name =~ '^(a+)+$'"),
    ("--search", "^(a+)+$"),
    ("--filter", "tags =~ '^(a|a)*$'"),
])
def test_backtracking_regexes_return_at_once(store_dir, wbrun, args):
    wbrun("-q", "--no-system", "-n", "a" * 40 + "b", "-t", "a" * 40 + "b", "--", "true", check_code=0)
    result = wbrun("runs", "ls", "-f", "json", *args, timeout=30)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_regex_features_re2_lacks_are_named(store_dir, wbrun):
    result = wbrun("runs", "ls", "--filter", r"name =~ '(a)\1'")
    assert result.returncode == 2
    assert "bad regex '(a)" in result.stderr and "backreferences are not supported" in result.stderr
    result = wbrun("runs", "ls", "--search", "(?=a)")
    assert result.returncode == 2 and "lookahead and lookbehind" in result.stderr


def test_a_command_with_an_undecodable_byte_is_searched_by_either_engine(store_dir, wbrun):
    """The byte is kept as a lone surrogate, which RE2 (taking UTF-8) could not be given: it
    reaches RE2 as U+FFFD, so both engines match it by `.` alone."""
    wbrun("-q", "--no-system", "--", "true", "caf\udcff", check_code=0)
    for pattern, found in [("caf", True), ("ca+f", True), ("caf.", True), ("ca+f.", True),
                           ("cafe", False), ("caf[a-z]", False)]:
        result = wbrun("runs", "ls", "-f", "ids", "--filter", f"command =~ '{pattern}'")
        assert result.returncode == 0, (pattern, result.stderr)
        assert bool(result.stdout.strip()) is found, pattern


# --- 6. names and references too long for a file name --------------------------------------
def test_long_names_and_references_are_ordinary_errors(store_dir, wbrun):
    long_ref = "x" * 300
    for command in (("runs", "show", long_ref), ("runs", "delete", "--yes", long_ref),
                    ("runs", "stop", long_ref), ("runs", "tag", long_ref, "t"),
                    ("runs", "restore", long_ref), ("runs", "logs", long_ref)):
        result = wbrun(*command)
        assert result.returncode == 1, (command, result.stderr)
        assert "internal error" not in result.stderr and "no " in result.stderr
    result = wbrun("-n", "y" * 129, "--", "true")
    assert result.returncode == 2 and "at most 128 characters" in result.stderr
    wbrun("-q", "--no-system", "-n", "y" * 128, "--", "true", check_code=0)
    sdk = subprocess.run([sys.executable, "-c",
                          "import wandb_cli as w\ntry:\n    w.init(name='z' * 129)\n"
                          "except Exception as e:\n    print(type(e).__name__, e)"],
                         capture_output=True, text=True, timeout=60)
    assert sdk.stdout.startswith("UsageError a run name is at most 128 characters"), sdk.stderr
    assert not (store_dir / ".trash").exists()


# --- 7. deep JSON -------------------------------------------------------------------------------
def test_deeply_nested_config_is_refused_with_exit_2(store_dir, wbrun):
    deep = "[" * 1000 + "]" * 1000
    result = wbrun("-c", f"deep={deep}", "--", "true")
    assert result.returncode == 2
    assert result.stderr.strip() == "wbrun: error: bad --config 'deep': JSON value nested too deeply"
    assert not store_dir.exists() or not list(store_dir.glob("run-*"))


def test_sdk_log_of_a_10000_deep_dict_names_the_key(store_dir):
    code = ("import wandb_cli as w\nrun = w.init(project='deep')\nd = cur = {}\n"
            "for _ in range(10000):\n    cur['a'] = {}\n    cur = cur['a']\n"
            "try:\n    run.log({'nested': d})\nexcept TypeError as e:\n    print('TypeError', e)\n"
            "run.log({'ok': 1})\nrun.finish()\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "WBRUN_SYSTEM": "0"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "TypeError cannot log 'nested': value nested too deeply to store as JSON"
    folder = next(store_dir.glob("run-*"))
    assert [{k: v for k, v in r.items() if not k.startswith("_")} for r in history_rows(folder)] == [{"ok": 1}]


# --- 8. a thousand runs in one process ------------------------------------------------------------
CYCLES = """\
import gc, sys, tracemalloc
import wandb_cli as wandb
from wandb_cli.sdk.run import Run
# The recursion limit lowered from 1,000 to 400 (and 450 cycles, not 1,100) keeps the test
# quick: a wrapper of sys.exit added per init() would nest 450 deep and fail the same way.
sys.setrecursionlimit(400)
tracemalloc.start()
for i in range(450):
    run = wandb.init(project="cycles")
    run.log({"i": i})
    run.finish()
    if i == 99:
        del run
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
del run
gc.collect()
grown = tracemalloc.get_traced_memory()[0] - base
live_runs = sum(1 for o in gc.get_objects() if isinstance(o, Run))
print(grown, live_runs, sys.exit.__qualname__, flush=True)
wandb.init(project="cycles", name="last")
sys.exit(0)
"""


@pytest.mark.slow
def test_hundreds_of_init_finish_cycles_then_sys_exit(store_dir, wbrun):
    result = subprocess.run([sys.executable, "-c", CYCLES], capture_output=True, text=True,
                            timeout=900, env={**os.environ, "WBRUN_SYSTEM": "0"})
    assert result.returncode == 0, result.stderr[-2000:]
    grown, live_runs, _ = result.stdout.split()
    assert int(live_runs) == 0  # no finished Run kept alive
    assert int(grown) < 350 * 2048  # was ~25 KB per run: now well under 2 KB
    last = json.loads(wbrun("runs", "ls", "--filter", "name = last", "-f", "json",
                            check_code=0).stdout)
    assert [(r["state"], r["exit_code"]) for r in last] == [("finished", 0)]


# --- 9. a wall clock stepped back -------------------------------------------------------------------
STEPPED = """\
import json, pathlib, time
import wandb_cli as wandb
run = wandb.init(project="clock")
start = time.monotonic()
while time.monotonic() - start < 7.5:
    run.log({"t": round(time.monotonic() - start, 2)})
    time.sleep(0.1)
run.summary["late"] = 1
time.sleep(2.5)  # a summary flush is due every second
files = pathlib.Path(run.dir)
print(json.dumps({"summary": json.loads((files / "wandb-summary.json").read_text()),
                  "doc": json.loads((files / "wbrun-run.json").read_text())}), flush=True)
run.finish()
"""


@pytest.mark.slow
def test_a_wall_clock_stepped_back_an_hour_keeps_heartbeat_flushes_and_runtime(tmp_path, store_dir, wbrun):
    env = {**fake_clock_env(tmp_path, shift_s=-3600, after_s=1.0), "WBRUN_SYSTEM": "0"}
    result = subprocess.run([sys.executable, "-c", STEPPED], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["summary"].get("late") == 1  # flushed while the program ran
    doc = seen["doc"]
    assert doc["heartbeat"] < doc["created"] - 3000  # heartbeats went on after the step back
    rows = history_rows(next(store_dir.glob("run-*")))
    runtimes = [r["_runtime"] for r in rows]
    assert runtimes == sorted(runtimes) and runtimes[0] >= 0 and runtimes[-1] >= 7
    assert any(r["_timestamp"] < doc["created"] - 3000 for r in rows)  # the clock did step
    shown = json.loads(wbrun("runs", "ls", "-f", "json", check_code=0).stdout)[0]
    assert shown["state"] == "finished" and shown["runtime"] >= 9.5


# --- 10. the runtime of a resumed run --------------------------------------------------------------
@pytest.mark.slow
def test_a_resumed_runs_runtime_counts_only_its_running_segments(store_dir, wbrun):
    sleeper = [sys.executable, "-c", "import time; time.sleep(1)"]
    wbrun("-q", "--no-system", "--id", "seg00001", "--", *sleeper, check_code=0)
    time.sleep(4)  # not running: must not count
    wbrun("-q", "--no-system", "--id", "seg00001", "--resume", "allow", "--", *sleeper, check_code=0)
    folder, doc = run_doc(store_dir, "seg00001")
    assert len(doc["segments"]) == 2 and all(s["seconds"] >= 1 for s in doc["segments"])
    shown = json.loads(wbrun("runs", "show", "seg00001", "-f", "json", check_code=0).stdout)
    assert 2 <= shown["runtime"] < 5
    assert shown["runtime"] == pytest.approx(sum(s["seconds"] for s in doc["segments"]), abs=0.01)
    over5 = json.loads(wbrun("runs", "ls", "--filter", "runtime > 5s", "-f", "json", check_code=0).stdout)
    over2 = json.loads(wbrun("runs", "ls", "--filter", "runtime >= 2s", "-f", "json", check_code=0).stdout)
    assert over5 == [] and [r["id"] for r in over2] == ["seg00001"]


# --- 11. a store shared by two users ----------------------------------------------------------------
SHARED_GROUP, USERS = "wbrunshare", ("wbrunalice", "wbrunbob")


@pytest.fixture
def two_users():
    """Two real accounts in a common group, removed afterwards; a store folder owned by the
    group with mode 2775 (group-writable, setgid), where both work."""
    import shutil
    import tempfile

    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("setpriv"):
        pytest.skip("needs root, useradd and setpriv")
    subprocess.run(["groupadd", "-f", SHARED_GROUP], check=True)
    for user in USERS:
        subprocess.run(["userdel", "-r", user], capture_output=True)
        subprocess.run(["useradd", "-M", "-N", "-g", SHARED_GROUP, user], check=True)
    base = Path(tempfile.mkdtemp(prefix="wbrun-shared-", dir="/tmp"))
    os.chmod(base, 0o755)
    store = base / "store"
    store.mkdir()
    shutil.chown(store, group=SHARED_GROUP)
    os.chmod(store, 0o2775)
    try:
        yield store
    finally:
        shutil.rmtree(base, ignore_errors=True)
        for user in USERS:
            subprocess.run(["userdel", user], capture_output=True)
        subprocess.run(["groupdel", SHARED_GROUP], capture_output=True)


def as_user(user: str, store: Path, *args: str) -> subprocess.CompletedProcess:
    """`wbrun ARGS` as `user`, with umask 022 (a user's usual one), in the shared store."""
    repo = str(Path(__file__).resolve().parent.parent)
    script = 'umask 022 && exec "$@"'
    # CAP_DAC_READ_SEARCH only lets the user read this machine's Python (under /root, 0700);
    # every write still needs the permission bits this test is about.
    argv = ["setpriv", f"--reuid={user}", f"--regid={SHARED_GROUP}", "--init-groups",
            "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
            "sh", "-c", script, "sh", sys.executable, "-m", "wandb_cli", *args]
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": repo, "WBRUN_DIR": str(store),
           "WBRUN_SYSTEM": "0", "HOME": str(store.parent), "NO_COLOR": "1"}
    return subprocess.run(argv, env=env, cwd=store.parent, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.slow
def test_two_users_share_a_store_and_a_failed_delete_leaves_no_trash(two_users):
    store = two_users
    for user, run_id in (("wbrunalice", "alice001"), ("wbrunbob", "bob00001"), ("wbrunalice", "alice002")):
        result = as_user(user, store, "-q", "--id", run_id, "--", "true")
        assert result.returncode == 0, result.stderr
    failed = as_user("wbrunalice", store, "runs", "delete", "--yes", "nosuchrun")
    assert failed.returncode == 1 and not (store / ".trash").exists()

    assert as_user("wbrunalice", store, "runs", "delete", "--yes", "alice001").returncode == 0
    trash = store / ".trash"
    assert trash.stat().st_mode & 0o2070 == 0o2070  # group rwx and setgid, whatever the umask
    for user, run_id in (("wbrunbob", "bob00001"), ("wbrunbob", "alice002")):
        result = as_user(user, store, "runs", "delete", "--yes", run_id)
        assert result.returncode == 0, (user, run_id, result.stderr)
    result = as_user("wbrunalice", store, "runs", "restore", "bob00001")
    assert result.returncode == 0, result.stderr
    assert as_user("wbrunbob", store, "runs", "tag", "bob00001", "shared").returncode == 0
    assert as_user("wbrunalice", store, "-q", "--id", "bob00001", "--resume", "allow",
                   "--", "true").returncode == 0


# --- 2. background jobs of the wrapped command ----------------------------------------------------
JOB = ("(for i in $(seq 30); do echo tick; sleep 0.05; done; echo done > job-ended.txt) & "
       "exit 0")


def wait_for_file(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_background_job_outlives_the_command_in_pipe_mode(tmp_path, store_dir):
    out = tmp_path / "stdout.txt"
    with out.open("wb") as stdout:
        status = subprocess.run(wbrun_argv("-q", "--no-system", "--", "sh", "-c", JOB),
                                stdout=stdout, stderr=subprocess.PIPE, timeout=60).returncode
    assert status == 0
    wait_for_file(Path("job-ended.txt"))  # the job ran to its end: no SIGPIPE
    deadline = time.monotonic() + 10
    folder = next(store_dir.glob("run-*"))
    log = folder / "files" / "output.log"
    while log.read_text().count("tick") < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert out.read_text().count("tick") == 30  # still reaches wbrun's stdout ...
    assert log.read_text().count("tick") == 30  # ... and the run's output.log
    doc = json.loads((folder / "files" / "wbrun-run.json").read_text())
    assert doc["state"] == "finished" and doc["exit_code"] == 0


# a writer that never ends by itself, slowly (were the test to fail, it fills no disk)
ENDLESS = "while echo y; do sleep 0.01; done"


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_a_reader_that_goes_away_stops_the_command_as_at_a_shell(store_dir, stream):
    """`wbrun -- yes | head -2`: the command's next write gets EPIPE (SIGPIPE), as without
    wbrun, instead of going on into output.log without end; what was read is kept."""
    command = ENDLESS if stream == "stdout" else ENDLESS.replace("echo y", "echo y >&2")
    wrapper = subprocess.Popen(wbrun_argv("-q", "--no-system", "--", "sh", "-c", command),
                               stdout=subprocess.PIPE if stream == "stdout" else subprocess.DEVNULL,
                               stderr=subprocess.PIPE if stream == "stderr" else subprocess.DEVNULL)
    reader = wrapper.stdout if stream == "stdout" else wrapper.stderr
    assert reader is not None
    try:
        assert reader.read(4) == b"y\ny\n"
        reader.close()  # as `head -2` exits
        assert wrapper.wait(timeout=30) == 128 + 13  # SIGPIPE, as the command alone gives
    finally:
        wrapper.kill()
        wrapper.wait()
    folder = next(store_dir.glob("run-*"))
    doc = json.loads((folder / "files" / "wbrun-run.json").read_text())
    assert (doc["state"], doc["exit_code"]) == ("failed", 128 + 13)
    log = (folder / "files" / "output.log").read_bytes()
    assert log.startswith(b"y\ny\n") and set(log) == set(b"y\n")


def test_a_background_job_whose_reader_goes_away_stops_as_at_a_shell(store_dir):
    """After the command has exited, the carrier holding a background job's pipe passes the
    reader's going away on to the job, as a shell's pipe would."""
    job = f"(sleep 0.5; sh -c 'echo $$ > writer.pid; {ENDLESS}'; echo $? > job-status.txt) & echo started"
    wrapper = subprocess.Popen(wbrun_argv("-q", "--no-system", "--", "sh", "-c", job),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert wrapper.stdout is not None
    try:
        assert wrapper.wait(timeout=60) == 0  # the command's status, the job still going
        assert wrapper.stdout.read(10) == b"started\ny\n"  # now from the carrier
        wrapper.stdout.close()
        wait_for_file(Path("job-status.txt"), timeout=30)  # the job's writer ended ...
        assert Path("job-status.txt").read_text().strip() == str(128 + 13)  # ... of SIGPIPE
    finally:
        if not Path("job-status.txt").exists() and Path("writer.pid").exists():
            os.kill(int(Path("writer.pid").read_text()), 9)


# writes 100 kB, then (once `go` exists, i.e. the first part was read) 100 kB and a metric
# line, then says it is done: what it wrote before its reader left must all be recorded
TWO_PARTS = ("import os, sys, time\n"
             "w = sys.stdout.buffer.write\n"
             "w(b'x' * 100_000); sys.stdout.flush()\n"
             "time.sleep(0.3)\n"
             "w(b'y' * 100_000 + b'\\nloss=7\\n'); sys.stdout.flush()\n"
             "open('done', 'w').close()\n")


@pytest.mark.parametrize("when", ["command", "background job"])
def test_output_written_before_the_reader_went_is_recorded(store_dir, tmp_path, when):
    """`wbrun -- CMD | less`, quit later: the reader never read; what the command had written
    (it waits in the pipe from the command) still reaches output.log, and its metrics the
    history, before the pipe is closed on it."""
    script = tmp_path / "two_parts.py"
    script.write_text(TWO_PARTS)
    command = f"{sys.executable} {script}"
    if when == "background job":  # written under the carrier, once the command has exited
        command = f"(sleep 0.5; {command}) & exit 0"
    wrapper = subprocess.Popen(wbrun_argv("-q", "--no-system", "--", "sh", "-c", command),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert wrapper.stdout is not None
    try:
        wait_for_file(Path("done"), timeout=60)
        time.sleep(0.2)  # (the last write is in the pipe before `done` is made)
        wrapper.stdout.close()  # the reader leaves, having read nothing
        assert wrapper.wait(timeout=60) == 0
    finally:
        wrapper.kill()
        wrapper.wait()
    folder = next(store_dir.glob("run-*"))
    log = folder / "files" / "output.log"
    expected = b"x" * 100_000 + b"y" * 100_000 + b"\nloss=7\n"
    deadline = time.monotonic() + 30  # (the carrier may still be writing)
    while log.read_bytes() != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert log.read_bytes() == expected
    if when == "command":
        doc = json.loads((folder / "files" / "wbrun-run.json").read_text())
        assert (doc["state"], doc["exit_code"]) == ("finished", 0)
        summary = json.loads((folder / "files" / "wandb-summary.json").read_text())
        assert summary == {"loss": 7}


@pytest.mark.slow
def test_a_command_that_survives_its_reader_keeps_the_terminal(store_dir):
    """`wbrun -- CMD 2>&1 | head -1` where CMD ignores SIGPIPE: both its pipes are closed,
    yet wbrun waits for it with the terminal still its own (it was taken back: the command's
    read of the terminal stopped it, SIGTTIN, and the prompt never came back)."""
    from helpers_faults import Terminal

    env = {**os.environ, "WBRUN_SYSTEM": "0", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    Path("inner.sh").write_text("trap '' PIPE\n"
                                "echo out1; echo err1 >&2; sleep 0.5\n"
                                "echo out2; echo err2 >&2\n"
                                "read x; echo \"got $x\" > got.txt\n")
    term = Terminal(Path.cwd(), env)
    try:
        term.expect(Terminal.PROMPT)
        command = " ".join(wbrun_argv("-q", "--", "sh", "inner.sh"))
        term.send(f"{command} 2>&1 | head -1\n")
        term.expect("out1")
        time.sleep(1.5)  # both pipes met their reader gone by now
        term.send("hello\n")
        wait_for_file(Path("got.txt"), timeout=30)
        assert Path("got.txt").read_text() == "got hello\n"
        term.expect(Terminal.PROMPT)
    finally:
        term.close()


@pytest.mark.slow
def test_a_background_job_outlives_the_command_in_pty_mode(tmp_path, store_dir):
    import pty
    import select

    pid, master = pty.fork()
    if pid == 0:  # the child: wbrun with a terminal for stdout, as typed at a prompt
        os.execvp(sys.executable, wbrun_argv("-q", "--no-system", "--", "sh", "-c", JOB.replace(
            "echo tick", "echo tick; echo tick >> ticks.txt")))
    shown = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until every holder of our terminal closed it
        ready, _, _ = select.select([master], [], [], 0.5)
        try:
            data = os.read(master, 4096) if ready else b"-"
        except OSError:
            break
        if not data:
            break
        shown += data if ready else b""
    _, status = os.waitpid(pid, 0)
    os.close(master)
    assert os.waitstatus_to_exitcode(status) == 0
    wait_for_file(Path("job-ended.txt"), timeout=15)  # no SIGHUP when the command exited
    assert Path("ticks.txt").read_text().count("tick") == 30
    assert shown.count(b"tick") == 30  # the job's output still reached the terminal ...
    log = next(store_dir.glob("run-*")) / "files" / "output.log"
    assert log.read_text().count("tick") == 30  # ... and output.log


# --- 3. Ctrl+Z, fg, Ctrl+C under an interactive shell ---------------------------------------------
SLEEPER = "import os, time; print('started', os.getpid(), flush=True); time.sleep(60)"


@pytest.mark.slow
@pytest.mark.parametrize("mode, pipe", [("pipe", " | cat"), ("pty", "")])
def test_ctrl_z_stops_wbrun_with_its_child_and_fg_continues_both(tmp_path, store_dir, mode, pipe):
    from helpers_faults import Terminal, process_state

    env = {**os.environ, "WBRUN_SYSTEM": "0", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    term = Terminal(Path.cwd(), env)
    try:
        term.expect(Terminal.PROMPT)
        command = " ".join(wbrun_argv("-q", "--id", f"ctrlz{mode}", "--", sys.executable, "-c",
                                      f'"{SLEEPER}"'))
        term.send(f"{command}{pipe}\n")
        child = _started_pid(term)
        folder, doc = run_doc(store_dir, f"ctrlz{mode}")
        wrapper = doc["pid"]
        term.send("\x1a")  # Ctrl+Z
        term.expect("Stopped")
        term.expect(Terminal.PROMPT)  # the shell has the terminal back
        assert process_state(child) == "T" and process_state(wrapper) == "T"
        term.send("fg\n")
        deadline = time.monotonic() + 30
        while (process_state(child), process_state(wrapper)) != ("S", "S"):
            assert time.monotonic() < deadline, (process_state(child), process_state(wrapper))
            time.sleep(0.1)
        term.send("\x03")  # Ctrl+C reaches the child once more
        term.expect(Terminal.PROMPT)
        if not pipe:  # (after `fg` of a pipeline, bash reports the last command's status)
            term.send("echo status=$?\n")
            assert "status=130" in term.expect(Terminal.PROMPT)
        doc = json.loads((folder / "files" / "wbrun-run.json").read_text())
        assert doc["state"] == "killed" and doc["exit_code"] == 130
    finally:
        term.close()


def _started_pid(term) -> int:
    term.expect("started ")
    return int(term.expect("\n").strip())
