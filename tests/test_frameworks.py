"""The frameworks' own W&B integrations, unchanged, recording into wbrun through `import
wandb` under `wbrun --` (issue 15). Each test skips, saying why, when its framework is not
installed. `.ci/run` installs them (about 20 s here, and the suite takes about 40 s); by hand:

    pip install torch transformers accelerate lightning keras
    python3 -m pytest -q tests/test_frameworks.py

The programs are in tests/frameworks/. The real W&B SDK is poisoned (helpers_compat.py).
"""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_compat import program_env, runs, show, wbrun_json

HERE = Path(__file__).resolve().parent / "frameworks"
pytestmark = pytest.mark.slow


def wrapped(tmp_path: Path, program: str, *wbrun_args: str) -> subprocess.CompletedProcess:
    work = tmp_path / "work"
    shutil.copy(HERE / program, work / program)
    result = subprocess.run([sys.executable, "-m", "wandb_cli", *wbrun_args, "--", sys.executable,
                             program], capture_output=True, text=True, timeout=900, cwd=work,
                            env=program_env(tmp_path, {"KERAS_BACKEND": "torch"}))
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def need(module: str, reason: str) -> None:
    """Skip unless `module` is installed, without importing it here: the programs import the
    frameworks in their own processes, and importing Lightning (torch._dynamo, Triton) into a
    test process that has loaded pyarrow, scipy and the like crashed it (a segfault in
    Triton's module, seen with --dist loadfile)."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(reason)


def only_run() -> dict:
    found = runs()
    assert len(found) == 1, [(r["name"], r["project"]) for r in found]
    return found[0]


def test_transformers_trainer_report_to_wandb(tmp_path):
    need("torch", "torch is not installed")
    need("transformers", "transformers is not installed")
    need("accelerate", "accelerate is not installed (Trainer needs it)")
    wrapped(tmp_path, "transformers_trainer.py")
    run = only_run()
    assert (run["name"], run["project"], run["state"]) == ("hf-tiny", "huggingface", "finished")
    assert run["config"]["learning_rate"] == 5e-05 and run["config"]["num_hidden_layers"] == 1
    assert run["config"]["model/num_parameters"] > 0
    assert run["summary"]["train/global_step"] == 8 and run["summary"]["train/epoch"] == 2
    assert "train_runtime" in run["summary"] and "eval/loss" in run["summary"]
    metrics = {m["name"]: m for m in show(run["id"])["metrics"]}
    assert metrics["*"]["step_metric"] == "train/global_step" and metrics["*"]["step_sync"] is True


def test_lightning_wandb_logger(tmp_path):
    need("torch", "torch is not installed")
    need("lightning", "lightning is not installed")
    wrapped(tmp_path, "lightning_wandb_logger.py")
    run = only_run()
    assert run["project"] == "lit" and run["config"] == {"lr": 0.1}
    assert run["summary"]["trainer/global_step"] == 15 and "val_loss" in run["summary"]
    outputs = show(run["id"])["artifacts"]["outputs"]
    assert [a["type"] for a in outputs] == ["model"]  # log_model=True: the checkpoint
    assert not (tmp_path / "work" / "wandb" / "wandb").exists()  # dir="." is W&B's meaning


def test_accelerate_wandb_tracker(tmp_path):
    need("accelerate", "accelerate is not installed")
    result = wrapped(tmp_path, "accelerate_tracker.py")
    assert "WARNING" not in result.stderr.upper().replace("WBRUN: WARNING", "")
    run = only_run()
    assert (run["name"], run["project"], run["tags"]) == ("acc-run", "acc-proj", ["acc"])
    assert run["config"] == {"lr": 0.01, "epochs": 3} and run["summary"] == {"loss": pytest.approx(1 / 3)}


def test_keras_callbacks_kept_across_folds_log_into_each_new_run(tmp_path):
    """Callbacks built once and reused after finish() and a new init() (a k-fold loop) log
    into the run current at the time, as W&B's do (they were tied to the first run, which
    made the second fold raise); save_freq=2 logs each batch checkpoint with W&B's alias."""
    need("torch", "torch is not installed (the Keras backend used here)")
    need("keras", "keras is not installed")
    wrapped(tmp_path, "keras_folds.py")
    by_name = {run["name"]: run for run in runs()}
    assert sorted(by_name) == ["fold0", "fold1"]
    for name, run in by_name.items():
        assert run["state"] == "finished" and run["summary"]["epoch/epoch"] == 1, name
        shown = show(run["id"])
        assert {m["name"]: m["step_metric"] for m in shown["metrics"]}["epoch/*"] == "epoch/epoch"
    [artifact] = [a for a in wbrun_json("artifact", "ls")
                  if a["name"] == f"run_{by_name['fold0']['id']}_model"]
    assert artifact["aliases"] == {"epoch_0_batch_1": 0, "epoch_1_batch_1": 1}


def test_keras_metrics_logger_and_model_checkpoint(tmp_path):
    need("torch", "torch is not installed (the Keras backend used here)")
    need("keras", "keras is not installed")
    wrapped(tmp_path, "keras_callbacks.py")
    run = only_run()
    assert run["project"] == "keras" and run["summary"]["epoch/epoch"] == 1
    assert {"epoch/loss", "epoch/val_loss", "epoch/learning_rate"} <= set(run["summary"])
    shown = show(run["id"])
    assert [a["ref"] for a in shown["artifacts"]["outputs"]] == \
        [f"run_{run['id']}_model:v0", f"run_{run['id']}_model:v1"]
    assert {m["name"]: m["step_metric"] for m in shown["metrics"]}["epoch/*"] == "epoch/epoch"
    assert json.dumps(run["summary"])
