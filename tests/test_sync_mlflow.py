"""`wbrun sync --to mlflow` and `wbrun import mlflow` against a real MLflow tracking server
(sqlite backend, local artifact root) started once for this module on a free loopback port.

Runs are made by real `wbrun` processes; what the server holds is read back through
MLflow's own client and compared field by field with the wbrun store.
"""
from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest
from helpers_sync import (
    LOGGING_SCRIPT,
    git_repo,
    history_rows,
    mlflow_proxy,
    mlflow_server,
    run_dir,
    run_wbrun,
    start_wrapped,
    wait_for,
    wrapped,
)

pytestmark = pytest.mark.slow

mlflow = pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=server)


def store_record(store: Path, run_id: str):
    from wandb_cli.store.layout import Store

    return Store(store).read(run_dir(store, run_id))


def remote_run(client, experiment: str, run_id: str):
    found = client.get_experiment_by_name(experiment)
    assert found is not None, experiment
    runs = client.search_runs([found.experiment_id], filter_string=f"tags.`wbrun.run_id` = '{run_id}'")
    assert len(runs) == 1, [r.info.run_id for r in runs]
    return runs[0]


def flat(mapping: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def param_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


STATUS = {"finished": "FINISHED", "failed": "FAILED", "crashed": "FAILED", "running": "RUNNING",
          "killed": "KILLED"}


def assert_mapped(client, store: Path, run_id: str, *, experiment: str, commit: str | None = None):
    """Every mapped field of the wbrun run equals what MLflow holds."""
    record = store_record(store, run_id)
    remote = remote_run(client, experiment, run_id)
    info, data = remote.info, remote.data
    assert info.status == STATUS[record.state]
    assert info.start_time == round(record.created * 1000)
    if record.state in ("finished", "failed", "killed"):
        assert info.end_time == round(record.ended * 1000)
    assert data.params == {k: param_text(v) for k, v in flat(record.config).items()}
    tags = data.tags
    assert tags["mlflow.runName"] == record.name
    assert tags.get("mlflow.note.content") == record.notes
    assert tags.get("wbrun.group") == record.group
    assert tags.get("wbrun.job_type") == record.job_type
    assert tags["wbrun.entity"] == record.entity and tags["wbrun.project"] == record.project
    assert tags["wbrun.host"] == record.host
    assert tags["wbrun.command"] == record.command_line
    assert tags["wbrun.state"] == record.state
    assert json.loads(tags["wbrun.tags"]) == record.tags
    for tag in record.tags:
        assert tags[tag] == ""
    if commit:
        assert tags["mlflow.source.git.commit"] == commit
    rows = history_rows(store, run_id)
    for key in {k for row in rows for k in flat(row) if not k.startswith("_")}:
        points = client.get_metric_history(info.run_id, key)
        expected = [(row["_step"], round(row["_timestamp"] * 1000), float(flat(row)[key]))
                    for row in rows if key in flat(row)]
        assert sorted((p.step, p.timestamp, p.value) for p in points) == expected, key
    for key, value in record.summary.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            assert data.metrics[key] == value, key
    return remote


def test_four_states_pushed_and_read_back(server, client, store_dir, tmp_path):
    commit = git_repo(Path.cwd())
    wrapped("-p", "mapped", "--id", "fin1", "-n", "first", "-c", "lr=0.01", "-c", "model={\"depth\": 3}",
            "-t", "baseline", "-t", "v2", "--notes", "the finished one", "-g", "sweep1", "-j", "train",
            "--system-interval", "0.2", script=LOGGING_SCRIPT + "\nimport time; time.sleep(0.5)\n")
    wrapped("-p", "mapped", "--id", "fail1", "-c", "lr=0.1",
            script="import sys\nprint('loss=2.5')\nprint('loss=1.5')\nsys.exit(3)", code=3)
    # no system sampler in the two live runs: a second push must find nothing new to send
    crashing = start_wrapped("-p", "mapped", "--id", "crash1", "--no-system",
                             script="import time\nprint('loss=1', flush=True)\ntime.sleep(120)")
    release = tmp_path / "go"
    running = start_wrapped("-p", "mapped", "--id", "live1", "--no-system", script=(
        "import os, time\nimport wandb_cli as wandb\nrun = wandb.init()\n"
        "for i in range(3): run.log({'loss': 3 - i})\n"
        f"while not os.path.exists({str(release)!r}): time.sleep(0.05)\n"
        "for i in range(2): run.log({'loss': 0.5 - i / 10})\n"))
    try:
        wait_for(lambda: len(history_rows(store_dir, "crash1")) == 1, what="crash1's row")
        os.killpg(crashing.pid, signal.SIGKILL)
        crashing.wait()
        wait_for(lambda: len(history_rows(store_dir, "live1")) == 3, what="live1's rows")

        first = run_wbrun("sync", "--to", "mlflow", server, "--all")
        assert first.stdout.count("created") == 4, first.stdout
        for run_id in ("fin1", "fail1", "crash1", "live1"):
            assert_mapped(client, store_dir, run_id, experiment="mapped",
                          commit=commit if run_id == "fin1" else None)
        fin = remote_run(client, "mapped", "fin1")
        assert fin.data.metrics["best_acc"] == 0.875  # summary-only value as a metric
        assert "nested.x" in fin.data.metrics
        assert any(key.startswith("system/") for key in fin.data.metrics)
        system_points = client.get_metric_history(fin.info.run_id, "system/cpu")
        events = [json.loads(line) for line in
                  (run_dir(store_dir, "fin1") / "files" / "wandb-events.jsonl").read_text().splitlines()]
        assert sorted(p.timestamp for p in system_points) == [
            round(e["_timestamp"] * 1000) for e in events if "system.cpu" in e]
        assert len(system_points) >= 2
        artifacts = {a.path for a in client.list_artifacts(fin.info.run_id, "files")}
        assert {"files/result.txt", "files/config.json", "files/wandb-history.jsonl",
                "files/output.log"} <= artifacts
        local = Path(client.download_artifacts(fin.info.run_id, "files/result.txt", str(tmp_path)))
        assert local.read_text() == "result"
        assert client.list_artifacts(remote_run(client, "mapped", "live1").info.run_id) == []

        second = run_wbrun("sync", "--to", "mlflow", server, "--all")
        assert second.stdout.count("up to date") == 4, second.stdout
        live = remote_run(client, "mapped", "live1")
        assert len(client.get_metric_history(live.info.run_id, "loss")) == 3

        # --watch follows the running run; a config value changed since the push is reported
        run_wbrun("--id", "fin1", "--resume", "allow", "-c", "lr=0.5", "-q", "--", "true")
        watcher = start_wrapped_sync(server)
        time.sleep(1)
        release.write_text("")
        assert running.wait(timeout=120) == 0
        out, err = watcher.communicate(timeout=300)
        assert watcher.returncode == 0, err
        assert "config lr changed from '0.01' to '0.5'" in err
        live = assert_mapped(client, store_dir, "live1", experiment="mapped")
        assert live.info.status == "FINISHED"
        assert [p.step for p in client.get_metric_history(live.info.run_id, "loss")] == [0, 1, 2, 3, 4]
        fin = remote_run(client, "mapped", "fin1")
        assert fin.data.params["lr"] == "0.01"
        assert json.loads(fin.data.tags["wbrun.changed_params"]) == {"lr": "0.5"}
    finally:
        for proc in (crashing, running):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def start_wrapped_sync(server: str):
    import subprocess

    return subprocess.Popen([sys.executable, "-m", "wandb_cli", "sync", "--to", "mlflow", server, "--all",
                             "--watch", "--interval", "0.5"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_a_run_s_artifact_is_pushed_while_another_artifact_s_manifest_is_damaged(
        server, client, store_dir, tmp_path):
    """The damaged manifest cannot say whose it is: each run's sync goes on without it and
    says so, and what the run made arrives whole."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "weights.bin").write_bytes(b"\x00\x01" * 100)
    wrapped("-p", "arts", "--id", "artmaker", "--no-system",
            script=f"import subprocess, sys\nsubprocess.run([sys.executable, '-m', 'wandb_cli', 'artifact', "
                   f"'log', {str(data)!r}, '--name', 'model'], check=True)\n")
    run_wbrun("artifact", "log", str(data), "--name", "broken")
    names = store_dir / ".wbrun" / "artifacts" / "names"
    (names / "broken" / "v0.json").write_text('{"name": "broken"}')
    result = run_wbrun("sync", "--to", "mlflow", server, "artmaker", "--experiment", "arts")
    assert "wbrun: run artmaker: broken:v0: malformed manifest" in result.stderr, result.stderr
    assert "(left out: if this run made it, it was not pushed)" in result.stderr
    remote = remote_run(client, "arts", "artmaker").info.run_id
    local = Path(client.download_artifacts(remote, "artifacts/model/v0/weights.bin", str(tmp_path / "got")))
    assert local.read_bytes() == b"\x00\x01" * 100


def test_big_config_and_long_history_within_batch_limits(server, client, store_dir, tmp_path):
    """1,000 config keys and 10,000 steps: the server refuses any batch over its limits
    (1,000 metrics, 100 params, 100 tags, 1 MB), so all of it arriving proves the batching."""
    config = {f"key_{i:04d}": i for i in range(1000)}
    config["long_text"] = "x" * 7000  # over MLflow's 6,000-character param limit
    (tmp_path / "config.json").write_text(json.dumps(config))
    wrapped("-p", "big", "--id", "big1", "--config-file", str(tmp_path / "config.json"), "--no-system",
            script="import wandb_cli as w\nr = w.init()\n"
                   "for i in range(10000): r.log({'loss': 1 / (i + 1), 'lr': 0.1})\n")
    result = run_wbrun("sync", "--to", "mlflow", server, "big1", "--experiment", "big-one")
    assert "10000 rows, 20000 metric points, 1000 params" in result.stdout, result.stdout
    assert "config long_text is 7000 characters, over MLflow's 6000" in result.stderr
    remote = remote_run(client, "big-one", "big1")
    assert len(remote.data.params) == 1000 and "long_text" not in remote.data.params
    assert remote.data.tags["wbrun.config_artifact"] == "files/config.json"
    for key in ("loss", "lr"):
        points = client.get_metric_history(remote.info.run_id, key)
        assert sorted(p.step for p in points) == list(range(10000))
    again = run_wbrun("sync", "--to", "mlflow", server, "big1", "--experiment", "big-one")
    assert "up to date, 0 rows, 0 metric points, 0 params" in again.stdout


def test_import_mlflow_native_and_round_trip(server, client, store_dir, tmp_path):
    from mlflow.entities import Metric

    experiment = client.create_experiment("native")
    made = client.create_run(experiment, start_time=1_700_000_000_000, run_name="native-run",
                             tags={"mlflow.note.content": "from mlflow", "team": "vision"})
    native_id = made.info.run_id
    client.log_batch(native_id, metrics=[
        Metric("loss", 1.0 / (s + 1), 1_700_000_001_000 + s * 1000, s) for s in range(4)] + [
        Metric("system/cpu_utilization_percentage", 50.0, 1_700_000_002_000, 0)])
    client.log_param(native_id, "lr", "0.01")
    client.log_param(native_id, "optimizer", "adam")
    client.set_terminated(native_id, "FINISHED", end_time=1_700_000_010_000)

    first = run_wbrun("import", "mlflow", server, "--experiment", "native")
    assert f"-> {native_id}" in first.stdout
    second = run_wbrun("import", "mlflow", server, "--experiment", "native")
    assert "nothing new" in second.stdout
    assert len(list(store_dir.glob("run-*"))) == 1
    record = store_record(store_dir, native_id)
    assert (record.name, record.project, record.state, record.notes) == (
        "native-run", "native", "finished", "from mlflow")
    assert record.config == {"lr": 0.01, "optimizer": "adam", "mlflow_tags": {"team": "vision"}}
    assert (record.created, record.ended) == (1_700_000_000.0, 1_700_000_010.0)
    assert record.summary == {"loss": 0.25}
    rows = history_rows(store_dir, native_id)
    assert [(r["_step"], r["_timestamp"], r["loss"]) for r in rows] == [
        (s, 1_700_000_001.0 + s, 1.0 / (s + 1)) for s in range(4)]
    doc = json.loads((run_dir(store_dir, native_id) / "files" / "wbrun-run.json").read_text())
    assert doc["imported"]["from"] == "mlflow" and doc["imported"]["source_id"] == native_id

    # a wbrun run pushed to MLflow comes back equal, into another store
    wrapped("-p", "trip", "--id", "trip1", "-c", "lr=0.01", "-t", "a", "--notes", "n",
            "--no-system", script=LOGGING_SCRIPT)
    run_wbrun("sync", "--to", "mlflow", server, "trip1")
    other = tmp_path / "other-store"
    run_wbrun("import", "mlflow", server, "--experiment", "trip", env={"WBRUN_DIR": str(other)})
    back, original = store_record(other, "trip1"), store_record(store_dir, "trip1")
    for field in ("id", "name", "project", "entity", "state", "tags", "notes", "config", "summary",
                  "created", "ended", "exit_code", "host", "command"):
        assert getattr(back, field) == getattr(original, field), field
    assert history_rows(other, "trip1") == history_rows(store_dir, "trip1")
    assert (run_dir(other, "trip1") / "files" / "result.txt").read_text() == "result"


def test_stdout_is_one_line_per_run_and_nothing_of_mlflow_s(server, store_dir):
    """MLflow's client prints 'View run ... at: URL' to stdout when a run it talks to over
    HTTP ends; sync's stdout is its own, one line a run (docs/sync.md)."""
    wrapped("-p", "quiet", "--id", "quiet1", "--no-system", script="print('loss=1')")
    wrapped("-p", "quiet", "--id", "quiet2", "--no-system", script="print('loss=2')")
    result = run_wbrun("sync", "--to", "mlflow", server, "--all")
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stdout
    for line, run_id in zip(sorted(lines), ("quiet1", "quiet2")):
        assert re.fullmatch(rf"{run_id} -> mlflow run \w+ \(quiet\): created, 1 rows, .*, FINISHED",
                            line), line


def test_a_resumed_run_that_ends_again_gets_its_new_end_time(server, client, store_dir):
    """Same status before and after (FINISHED), a later end: the end time is pushed again."""
    wrapped("-p", "again", "--id", "again1", "--no-system", script="print('loss=1')")
    run_wbrun("sync", "--to", "mlflow", server, "again1")
    first_end = remote_run(client, "again", "again1").info.end_time
    assert first_end == round(store_record(store_dir, "again1").ended * 1000)
    run_wbrun("--id", "again1", "--resume", "allow", "-q", "--no-system", "--", "true")
    record = store_record(store_dir, "again1")
    assert record.state == "finished" and round(record.ended * 1000) > first_end
    run_wbrun("sync", "--to", "mlflow", server, "again1")
    remote = remote_run(client, "again", "again1")
    assert (remote.info.status, remote.info.end_time) == ("FINISHED", round(record.ended * 1000))


def test_an_interrupted_push_retried_adds_no_point_to_a_metric_that_stopped_early(
        server, client, store_dir):
    """warmup_lr is logged for the first 100 of 3,000 steps only, so all of it goes in the
    first metric batch; the server then goes away (a proxy stops answering). The retry
    must know warmup_lr is a history key, not send its summary value at the last step."""
    wrapped("-p", "cut", "--id", "cut1", "--no-system", script=(
        "import wandb_cli as w\nr = w.init()\nfor i in range(3000):\n"
        "    r.log({'loss': 1 / (i + 1), **({'warmup_lr': i / 100} if i < 100 else {})})\n"))
    with mlflow_proxy(server, metric_batches=1) as proxy:
        cut = run_wbrun("sync", "--to", "mlflow", proxy.url, "cut1", code=None)
        assert cut.returncode != 0 and "wbrun: error: MLflow at" in cut.stderr, cut.stderr
        remote_id = remote_run(client, "cut", "cut1").info.run_id
        assert 0 < len(client.get_metric_history(remote_id, "loss")) < 3000  # cut short
        proxy.heal()
        run_wbrun("sync", "--to", "mlflow", proxy.url, "cut1")
    rows = history_rows(store_dir, "cut1")
    for key in ("warmup_lr", "loss"):
        points = client.get_metric_history(remote_id, key)
        assert sorted((p.step, p.value) for p in points) == [
            (row["_step"], row[key]) for row in rows if key in row], key


def test_a_nan_summary_value_is_sent_once(server, client, store_dir):
    """NaN != NaN: compared as numbers, a NaN summary value would be 'new' at every push."""
    wrapped("-p", "nan", "--id", "nan1", "--no-system", script=(
        "import wandb_cli as w\nr = w.init()\nr.log({'loss': 1})\n"
        "r.summary['score'] = float('nan')\nr.summary['bound'] = float('inf')\n"))
    first = run_wbrun("sync", "--to", "mlflow", server, "nan1")
    assert "created, 1 rows, 3 metric points" in first.stdout, first.stdout
    for _ in range(2):
        again = run_wbrun("sync", "--to", "mlflow", server, "nan1")
        assert "up to date, 0 rows, 0 metric points, 0 params, 0 tags, 0 files" in again.stdout, again.stdout
    remote = remote_run(client, "nan", "nan1")
    # once each (MLflow's sqlite store keeps inf as the largest float)
    assert len(client.get_metric_history(remote.info.run_id, "bound")) == 1
    [score] = client.get_metric_history(remote.info.run_id, "score")
    assert score.value != score.value  # NaN, once


def test_unreachable_server_is_one_error_line_per_run(store_dir):
    from helpers_sync import free_port

    wrapped("--id", "lone1", "--no-system", script="print('loss=1')")
    wrapped("--id", "lone2", "--no-system", script="print('loss=2')")
    result = run_wbrun("sync", "--to", "mlflow", f"http://127.0.0.1:{free_port()}", "--all", code=1)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("wbrun: error: MLflow at http://127.0.0.1:") for line in lines)
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_lost_local_record_resumes_from_the_run_tags(server, client, store_dir):
    import shutil

    wrapped("-p", "lost", "--id", "lost1", "-t", "keep", "--no-system", script=LOGGING_SCRIPT)
    run_wbrun("sync", "--to", "mlflow", server, "lost1")
    remote = remote_run(client, "lost", "lost1")
    client.set_tag(remote.info.run_id, "reviewer", "ana")  # a tag of the user's own
    shutil.rmtree(store_dir / ".wbrun" / "sync")
    again = run_wbrun("sync", "--to", "mlflow", server, "lost1")
    assert "0 rows, 0 metric points, 0 params" in again.stdout, again.stdout
    remote = remote_run(client, "lost", "lost1")
    assert remote.data.tags["reviewer"] == "ana" and remote.data.tags["keep"] == ""
    assert len(client.get_metric_history(remote.info.run_id, "loss")) == 5


def test_lost_local_record_then_tag_and_note_removed_are_deleted(server, client, store_dir):
    """Pushed from 'another machine' (no local record): the run is adopted by its
    wbrun.run_id tag, and a W&B tag removed and a note cleared since are deleted from it;
    a tag of the user's own and wbrun's progress marks stay."""
    wrapped("-p", "adopt", "--id", "adopt1", "-t", "keep", "-t", "draft", "--notes", "first try",
            "--no-system", script="print('loss=1')")
    run_wbrun("sync", "--to", "mlflow", server, "adopt1")
    remote_id = remote_run(client, "adopt", "adopt1").info.run_id
    client.set_tag(remote_id, "reviewer", "ana")
    [record_file] = list(store_dir.glob(".wbrun/sync/*/adopt1.json"))
    record_file.unlink()
    run_wbrun("runs", "tag", "adopt1", "--remove", "draft")
    run_wbrun("runs", "note", "adopt1", "")
    run_wbrun("sync", "--to", "mlflow", server, "adopt1")
    tags = remote_run(client, "adopt", "adopt1").data.tags
    assert "draft" not in tags and "mlflow.note.content" not in tags, tags
    assert (tags["keep"], tags["reviewer"], json.loads(tags["wbrun.tags"])) == ("", "ana", ["keep"])
    assert tags["wbrun.synced_step"] == "0" and tags["wbrun.run_id"] == "adopt1"
    assert_mapped(client, store_dir, "adopt1", experiment="adopt")


@pytest.mark.parametrize("kind", ["sqlite", "folder"])
def test_sqlite_and_folder_uris(store_dir, tmp_path, kind, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # for this test's own client
    wrapped("-p", "local", "--id", f"loc{kind}", "-c", "lr=0.01", "--no-system", script=LOGGING_SCRIPT)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}" if kind == "sqlite" else str(tmp_path / "mlruns")
    run_wbrun("sync", "--to", "mlflow", uri, f"loc{kind}")
    client = MlflowClient(tracking_uri=uri if kind == "sqlite" else (tmp_path / "mlruns").as_uri())
    remote = remote_run(client, "local", f"loc{kind}")
    assert remote.data.params == {"lr": "0.01"} and remote.info.status == "FINISHED"
    assert [p.step for p in client.get_metric_history(remote.info.run_id, "loss")] == [0, 1, 2, 3, 4]
    other = tmp_path / "other"
    result = run_wbrun("import", "mlflow", uri, env={"WBRUN_DIR": str(other)})
    assert result.stdout.strip().endswith(f"-> loc{kind}")
    assert history_rows(other, f"loc{kind}") == history_rows(store_dir, f"loc{kind}")


def test_non_ascii_names_are_sent_and_a_refused_name_says_why(server, client, store_dir):
    """MLflow's name rule is `^[/\\w.\\- :]*$` with a Unicode `\\w`: the server takes
    `ключ` and `accuracy_δ`; a name it refuses is kept out with its own reason."""
    long_name = "k" * 251
    wrapped("-p", "unicode", "--id", "uni1", "-c", "ключ=1", "-c", "bad*key=2", "-c", f"{long_name}=3",
            "-t", "тег", "--no-system",
            script="import wandb_cli as w\nr = w.init()\nr.log({'accuracy_δ': 0.5, 'loss': 1})\n")
    result = run_wbrun("sync", "--to", "mlflow", server, "uni1")
    remote = remote_run(client, "unicode", "uni1")
    assert remote.data.params == {"ключ": "1"}
    assert [p.value for p in client.get_metric_history(remote.info.run_id, "accuracy_δ")] == [0.5]
    assert remote.data.tags["тег"] == ""
    assert "config bad*key has characters MLflow refuses in a name" in result.stderr, result.stderr
    assert f"config {long_name} is 251 characters, over MLflow's 250 for a name" in result.stderr
    assert "ключ" not in result.stderr


def test_a_cut_tag_is_reported_when_sent_not_at_every_push(server, client, store_dir):
    wrapped("-p", "longnote", "--id", "longnote1", "--notes", "n" * 9000, "--no-system",
            script="print('loss=1')")
    first = run_wbrun("sync", "--to", "mlflow", server, "longnote1")
    assert "tag mlflow.note.content is 9000 characters: cut to 8000" in first.stderr, first.stderr
    again = run_wbrun("sync", "--to", "mlflow", server, "longnote1")
    assert "up to date" in again.stdout and again.stderr == "", again.stderr
    remote = remote_run(client, "longnote", "longnote1")
    assert remote.data.tags["mlflow.note.content"] == "n" * 8000


def test_a_crashed_run_ends_at_its_last_row_not_its_first_heartbeat(server, client, store_dir):
    """kill -9 between heartbeats (every 5 s): the rows logged after the last heartbeat say
    the run was alive then, so the MLflow run ends at the last row, not at its start."""
    crashing = start_wrapped("-p", "crashend", "--id", "crashend1", "--no-system", script=(
        "import time\nimport wandb_cli as w\nr = w.init()\nr.log({'loss': 1})\ntime.sleep(2)\n"
        "r.log({'loss': 0.5})\ntime.sleep(120)\n"))
    try:
        wait_for(lambda: len(history_rows(store_dir, "crashend1")) == 2, what="crashend1's rows")
    finally:
        os.killpg(crashing.pid, signal.SIGKILL)
        crashing.wait()
    record = store_record(store_dir, "crashend1")
    last_row = history_rows(store_dir, "crashend1")[-1]["_timestamp"]
    assert record.state == "crashed" and last_row > record.heartbeat + 1, (record.heartbeat, last_row)
    run_wbrun("sync", "--to", "mlflow", server, "crashend1")
    remote = remote_run(client, "crashend", "crashend1")
    assert (remote.info.status, remote.info.end_time) == ("FAILED", round(last_row * 1000))
    again = run_wbrun("sync", "--to", "mlflow", server, "crashend1")
    assert "up to date" in again.stdout, again.stdout


def test_import_mlflow_keeps_valued_tags_and_non_number_param_text(server, client, store_dir):
    """A tag with a value has no W&B tag to go to: it is kept in config["mlflow_tags"]; a
    param's text that is not JSON (NaN and Infinity are not JSON numbers) stays that text."""
    experiment = client.create_experiment("native-tags")
    made = client.create_run(experiment, run_name="tagged", tags={
        "team": "vision", "ключ": "значение", "baseline": "", "mlflow.source.name": "train.py"})
    run_id = made.info.run_id
    for key, text in (("nan", "NaN"), ("inf", "-Infinity"), ("huge", "1e999"), ("mixed", "[1, NaN]"),
                      ("padded", " 1"), ("lr", "0.01"), ("flag", "true"), ("layers", "[1, 2]")):
        client.log_param(run_id, key, text)
    client.set_terminated(run_id, "FINISHED")
    run_wbrun("import", "mlflow", server, "--experiment", "native-tags")
    record = store_record(store_dir, run_id)
    assert record.config == {
        "nan": "NaN", "inf": "-Infinity", "huge": "1e999", "mixed": "[1, NaN]", "padded": " 1",
        "lr": 0.01, "flag": True, "layers": [1, 2],
        "mlflow_tags": {"team": "vision", "ключ": "значение"}}
    assert record.tags == ["baseline"]
