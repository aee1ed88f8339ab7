"""`wandb_cli.Api()`: W&B's public read API over runs made by real `wbrun` processes, with
pandas and (in a child process whose pandas import is blocked) without it."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers_sync import wrapped

import wandb_cli
from wandb_cli.api import Api
from wandb_cli.errors import RunNotFound, UsageError

TRAIN = """
import wandb_cli as wandb
run = wandb.init()
for i in range(10):
    run.log({{"loss": 1.0 / (i + 1), "lr": {lr}}})
run.summary["acc"] = {acc}
{extra}
"""
LOG_MODEL = 'open("model.bin", "w").write("weights")\nrun.log_artifact("model.bin", name="model", type="model")'
USE_MODEL = 'run.use_artifact("model:latest")'


@pytest.fixture
def made(store_dir):
    """Four runs from real wbrun processes (three in team/vision, one in team/other)."""
    common = ("-e", "team", "--no-system")
    wrapped("-p", "vision", *common, "--id", "a1", "-n", "alpha-1", "-c", "lr=0.01", "-c", "opt=adam",
            "-t", "base", "--notes", "first", script=TRAIN.format(lr=0.01, acc=0.9, extra=LOG_MODEL))
    wrapped("-p", "vision", *common, "--id", "a2", "-n", "alpha-2", "-c", "lr=0.1", "-c", "opt=sgd",
            "-t", "base", "-t", "big", script=TRAIN.format(lr=0.1, acc=0.7, extra=USE_MODEL))
    wrapped("-p", "vision", *common, "--id", "a3", "-n", "beta-3", "-c", "lr=0.001",
            script=TRAIN.format(lr=0.001, acc=0.5, extra="raise SystemExit(1)"), code=1)
    wrapped("-p", "other", *common, "--id", "b1", script=TRAIN.format(lr=1, acc=0.1, extra=""))
    return store_dir


def ids(runs) -> list[str]:
    return [run.id for run in runs]


def test_runs_path_order_and_filters(made):
    api = Api()
    assert wandb_cli.Api is Api
    assert ids(api.runs("team/vision")) == ["a1", "a2", "a3"]  # +created_at by default
    assert ids(api.runs("other")) == ["b1"] and len(api.runs()) == 4
    assert ids(api.runs("team/vision", order="-created_at")) == ["a3", "a2", "a1"]
    assert ids(api.runs("team/vision", order="-summary_metrics.acc")) == ["a1", "a2", "a3"]
    assert ids(api.runs("team/vision", order="+config.lr.value")) == ["a3", "a1", "a2"]
    cases = [
        ({"config.lr": {"$lt": 0.05}}, ["a1", "a3"]),
        ({"config.opt.value": "adam"}, ["a1"]),
        ({"$or": [{"state": "failed"}, {"tags": {"$in": ["big"]}}]}, ["a2", "a3"]),
        ({"$and": [{"tags": "base"}, {"summary_metrics.acc": {"$gte": 0.8}}]}, ["a1"]),
        ({"display_name": {"$regex": "^ALPHA", "$options": "i"}}, ["a1", "a2"]),
        ({"config.opt": {"$nin": ["adam"]}}, ["a2", "a3"]),  # as MongoDB: a missing field too
        ({"config.opt": {"$exists": False}}, ["a3"]),
        ({"$nor": [{"state": "finished"}]}, ["a3"]),
        ({"name": "a2"}, ["a2"]),  # W&B's `name` is the run ID
        ({"createdAt": {"$gt": "2000-01-01T00:00:00Z"}, "state": {"$ne": "failed"}}, ["a1", "a2"]),
        ({"createdAt": {"$lt": "2000-01-01"}}, []),
        ({"summary_metrics.acc": {"$gt": "0.5"}}, []),  # a string never orders against a number
        ({"tags": {"$exists": False}}, ["a3"]),
    ]
    for filters, expected in cases:
        assert ids(api.runs("team/vision", filters=filters)) == expected, filters
    assert ids(api.runs("vision", filters="acc >= 0.7 and config.opt = sgd")) == ["a2"]
    with pytest.raises(UsageError, match="unknown filter operator"):
        api.runs("vision", filters={"config.lr": {"$near": 1}})
    with pytest.raises(UsageError, match="bad filter field"):
        api.runs("vision", filters={"colour": 1})


def test_run_attributes_history_files_artifacts(made, tmp_path):
    api = Api()
    run = api.run("team/vision/a1")
    assert (run.id, run.name, run.state, run.notes, run.tags) == ("a1", "alpha-1", "finished", "first", ["base"])
    assert run.config == {"lr": 0.01, "opt": "adam"}
    assert run.summary["acc"] == 0.9 and run.summary["loss"] == 0.1
    assert run.path == ["team", "vision", "a1"] and run.created_at.endswith("Z")
    assert api.run("a1").id == "a1" and api.run("vision/a1").id == "a1"
    with pytest.raises(RunNotFound):
        api.run("team/other/a1")
    frame = run.history(keys=["loss"], samples=4)
    assert list(frame.columns) == ["_step", "loss"]
    assert list(frame["_step"]) == [0, 3, 6, 9]  # evenly spaced, first and last kept
    rows = run.history(pandas=False)
    assert len(rows) == 10 and rows[0]["loss"] == 1.0 and {"_timestamp", "_runtime"} <= set(rows[0])
    assert len(list(run.scan_history())) == 10
    assert list(run.scan_history(keys=["loss"], min_step=8)) == [{"loss": 1 / 9}, {"loss": 0.1}]
    assert run.lastHistoryStep == 9
    names = {f.name for f in run.files()}
    assert {"output.log", "config.json", "wandb-history.jsonl"} <= names
    copy = run.file("config.json").download(root=str(tmp_path))
    assert json.loads(copy.read()) == {"lr": 0.01, "opt": "adam"}
    copy.close()
    [logged] = run.logged_artifacts()
    assert (logged.name, logged.type, logged.version) == ("model:v0", "model", "v0")
    assert run.used_artifacts() == []
    [used] = api.run("a2").used_artifacts()
    assert used.name == "model:v0"
    folder = used.download(root=str(tmp_path / "model"))
    assert (tmp_path / "model" / "model.bin").read_text() == "weights" and folder.endswith("model")
    frames = api.runs("vision").histories(keys=["loss"], samples=2, format="pandas")
    assert sorted(set(frames["run_id"])) == ["a1", "a2", "a3"] and len(frames) == 6


NO_PANDAS = """
import json, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "pandas":
            raise ModuleNotFoundError("No module named 'pandas'")
sys.meta_path.insert(0, Block())
from wandb_cli import Api
run = Api().run("team/vision/a2")
history = run.history(keys=["loss"], samples=3)
print(json.dumps({"type": type(history).__name__, "rows": history,
                  "pandas_loaded": "pandas" in sys.modules}))
"""


def test_history_without_pandas_is_a_list_of_dicts(made):
    result = subprocess.run([sys.executable, "-c", NO_PANDAS], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["type"] == "list" and not answer["pandas_loaded"]
    assert answer["rows"] == [{"_step": 0, "loss": 1.0}, {"_step": 4, "loss": 0.2}, {"_step": 9, "loss": 0.1}]
    assert "pandas is not installed" in result.stderr
