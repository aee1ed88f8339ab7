"""TensorBoard: what real programs write through torch.utils.tensorboard and tensorboardX
lands in the run's history (live sync, alone and under `wbrun --`), and `wbrun import
tensorboard` turns event files written without wbrun into runs."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_media import files_dir, run_program, wbrun_json, write_program

pytest.importorskip("tensorboard")

TORCH_WRITER = """
    import wandb_cli as wandb
    from wandb_cli.media import tensorboard
    run = wandb.init(project="tb")
    tensorboard.start_sync(run)                  # what init(sync_tensorboard=True) calls
    from torch.utils.tensorboard import SummaryWriter
    writer = SummaryWriter("logs/exp1")
    for step in range(4):
        writer.add_scalar("train/loss", 1.0 / (step + 1), step * 10)
        writer.add_scalar("lr", 0.1, step * 10)
    writer.close()
    run.finish()
"""


def runs_by_name() -> dict[str, dict]:
    runs = wbrun_json("runs", "ls")
    assert isinstance(runs, list)
    return {run["name"]: run for run in runs}


def history(run: dict) -> list[dict]:
    rows = wbrun_json("runs", "history", run["id"])
    assert isinstance(rows, list)
    return rows


@pytest.mark.parametrize("wrapped", [False, True], ids=["alone", "wrapped"])
def test_torch_summary_writer_scalars_become_history(tmp_path, wrapped):
    pytest.importorskip("torch")
    run_program(write_program(tmp_path, TORCH_WRITER), wrapped=wrapped)
    (run,) = runs_by_name().values()
    rows = history(run)
    assert [r["global_step"] for r in rows] == [0, 10, 20, 30]      # TensorBoard's step
    assert [r["_step"] for r in rows] == [0, 1, 2, 3]               # wbrun's own, as W&B
    assert [r["train/loss"] for r in rows] == [1.0, 0.5, 0.33333334, 0.25]  # float32 spelling
    assert all(r["lr"] == 0.1 for r in rows)
    assert run["summary"]["train/loss"] == 0.25 and run["summary"]["global_step"] == 30
    kept = list((files_dir(run) / "tensorboard").rglob("events.out.tfevents.*"))
    assert len(kept) == 1  # the event file is kept with the run, as W&B does


def test_tensorboardx_with_patch_before_init_and_two_logdirs(tmp_path):
    pytest.importorskip("tensorboardX")
    old = Path.cwd() / "logs" / "train"
    prog = write_program(tmp_path, """
        import numpy as np
        from tensorboardX import SummaryWriter
        old = SummaryWriter("logs/train")            # an earlier program's file: not mixed in
        old.add_scalar("loss", 99.0, 0)
        old.close()

        import wandb_cli as wandb
        from wandb_cli.media import tensorboard
        tensorboard.patch()                          # W&B's order: patch, then init
        run = wandb.init(project="tbx")
        train, val = SummaryWriter("logs/train"), SummaryWriter("logs/validation")
        for step in range(3):
            train.add_scalar("loss", 1.0 - step / 10, step)
            val.add_scalar("loss", 2.0 - step / 10, step)
        train.add_histogram("weights", np.arange(10.0), 2)
        train.close(); val.close()
        run.finish()
    """)
    run_program(prog)
    assert old.is_dir()
    (run,) = runs_by_name().values()
    rows = history(run)
    train = [r["train/loss"] for r in rows if "train/loss" in r]
    assert train, rows
    val = [r["validation/loss"] for r in rows if "validation/loss" in r]
    assert train == [1.0, 0.9, 0.8] and val == [2.0, 1.9, 1.8]
    assert 99.0 not in train
    weights = [r["train/weights"] for r in rows if "train/weights" in r]
    assert len(weights) == 1 and weights[0]["_type"] == "histogram"
    assert sum(weights[0]["values"]) == 10


def test_patch_imports_nothing_heavy(tmp_path):
    prog = write_program(tmp_path, """
        import sys
        from wandb_cli.media import tensorboard
        tensorboard.patch()
        print(sorted(m for m in ("torch", "tensorboardX", "tensorboard", "tensorflow", "numpy")
                     if m in sys.modules))
        tensorboard.unpatch()
    """)
    assert run_program(prog).stdout.strip() == "[]"


@pytest.mark.slow  # (importing TensorFlow takes ~5 s)
@pytest.mark.parametrize("wrapped", [False, True], ids=["alone", "wrapped"])
def test_tf_summary_scalars_and_histogram_become_history(tmp_path, wrapped):
    """TensorFlow 2's own writer (tf.summary, patched through create_summary_file_writer)."""
    if importlib.util.find_spec("tensorflow") is None:  # (not imported here: only the program does)
        pytest.skip("tensorflow is not installed (.ci/run installs it)")
    prog = write_program(tmp_path, """
        import os
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import wandb_cli as wandb
        run = wandb.init(project="tf", sync_tensorboard=True)
        import tensorflow as tf
        writer = tf.summary.create_file_writer("logs/tf")
        with writer.as_default():
            for step in range(3):
                tf.summary.scalar("loss", 1.0 / (step + 1), step=step * 5)
            tf.summary.histogram("weights", tf.range(10.0), step=10)
        writer.close()
        run.finish()
    """)
    run_program(prog, wrapped=wrapped)
    (run,) = runs_by_name().values()
    rows = history(run)
    losses = [(r["global_step"], r["loss"]) for r in rows if "loss" in r]
    assert losses == [(0, 1.0), (5, 0.5), (10, pytest.approx(1 / 3))], rows
    weights = [r["weights"] for r in rows if "weights" in r]
    assert len(weights) == 1 and weights[0]["_type"] == "histogram", rows
    assert run["summary"]["loss"] == pytest.approx(1 / 3)
    kept = list((files_dir(run) / "tensorboard").rglob("events.out.tfevents.*"))
    assert len(kept) == 1


def make_event_files(tmp_path):
    pytest.importorskip("tensorboardX")
    prog = write_program(tmp_path, """
        from tensorboardX import SummaryWriter
        for name, scale in (("runA", 1.0), ("nested/runB", 2.0)):
            writer = SummaryWriter("tblogs/" + name)
            for step in range(5):
                writer.add_scalar("loss", scale / (step + 1), step, walltime=1_700_000_000 + step)
            writer.close()
    """, name="writer.py")
    run_program(prog)
    return Path.cwd() / "tblogs"  # (programs run in the test's working directory)


def test_import_tensorboard_logdir_makes_one_run_per_folder(tmp_path, wbrun):
    logdir = make_event_files(tmp_path)
    result = wbrun("import", "tensorboard", str(logdir), "--project", "imported", check_code=0)
    assert len(result.stdout.split()) == 2 and "imported" in result.stderr
    runs = runs_by_name()
    assert set(runs) == {"runA", "nested/runB"}
    run_b = runs["nested/runB"]
    assert run_b["project"] == "imported" and run_b["state"] == "finished"
    rows = history(run_b)
    assert [r["loss"] for r in rows] == [2.0, 1.0, 0.6666667, 0.5, 0.4]
    assert [r["global_step"] for r in rows] == [0, 1, 2, 3, 4]
    assert [r["_timestamp"] for r in rows] == [1_700_000_000 + s for s in range(5)]
    assert [r["_runtime"] for r in rows] == [0, 1, 2, 3, 4]
    assert run_b["summary"]["loss"] == 0.4
    again = wbrun("import", "tensorboard", str(logdir), check_code=0)
    assert again.stdout == "" and again.stderr.count("skipped") == 2
    assert len(runs_by_name()) == 2


def test_import_tensorboard_bad_input(tmp_path, wbrun):
    missing = wbrun("import", "tensorboard", str(tmp_path / "nope"))
    assert missing.returncode != 0 and "no such folder" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = wbrun("import", "tensorboard", str(tmp_path / "empty"))
    assert empty.returncode != 0 and "no TensorBoard event files" in empty.stderr
    assert len(empty.stderr.strip().splitlines()) == 1


def test_import_help():
    result = subprocess.run([sys.executable, "-m", "wandb_cli", "import", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "tensorboard" in result.stdout
