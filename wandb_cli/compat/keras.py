"""`wandb.integration.keras` for Keras 3: `WandbMetricsLogger` and `WandbModelCheckpoint`.

Keras is imported when one of the classes is first used (module `__getattr__`), so
`import wandb` stays cheap and a program without Keras fails only if it asks for them.
What they record follows W&B's callbacks: `epoch/<metric>` against `epoch/epoch` (or
`batch/<metric>` against `batch/batch_step` with `log_freq="batch"` or N), each declared
with `define_metric`; checkpoints are logged as versions of the artifact
`run_<id>_model` (type "model") with the alias `epoch_<n>`.
"""
from __future__ import annotations

import os
from typing import Any

CALLBACKS = ("WandbMetricsLogger", "WandbModelCheckpoint")

_classes: dict[str, type] = {}


def _current_run():
    from wandb_cli.errors import WbrunError
    from wandb_cli.sdk import run as sdk

    current = sdk.current()
    if current is None:
        raise WbrunError("You must call wandb.init() before using the Keras callbacks")
    return current


def _learning_rate(model: Any) -> float | None:
    try:
        rate = model.optimizer.learning_rate
        return float(rate.numpy() if hasattr(rate, "numpy") else rate)
    except Exception:  # a schedule or no optimizer: W&B also skips it
        return None


def _metrics_logger(keras: Any) -> type:
    class WandbMetricsLogger(keras.callbacks.Callback):
        """Log Keras' metrics per epoch (default) or every `log_freq` batches."""

        def __init__(self, log_freq: Any = "epoch", initial_global_step: int = 0, *args: Any,
                     **kwargs: Any):
            super().__init__(*args, **kwargs)
            log_freq = 1 if log_freq == "batch" else log_freq
            self.batch_wise = isinstance(log_freq, int)
            self.log_freq: Any = log_freq if self.batch_wise else None
            self.global_batch, self.global_step = 0, initial_global_step
            self._defined_in: Any = None
            _ = self.run  # (a run must exist now, as W&B requires; its axes are declared)

        @property
        def run(self) -> Any:
            """The current run, when the callback logs (as W&B's calls wandb.log): a callback
            kept across finish() and a new init() (k-fold loops) logs into the new run,
            whose axes it declares on first use."""
            run = _current_run()
            if self._defined_in is not run:
                prefix = "batch" if self.batch_wise else "epoch"
                axis = "batch/batch_step" if self.batch_wise else "epoch/epoch"
                run.define_metric(axis)
                run.define_metric(f"{prefix}/*", step_metric=axis)
                self._defined_in = run
            return run

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            row = {f"epoch/{k}": _scalar(v) for k, v in (logs or {}).items()}
            row["epoch/epoch"] = epoch
            rate = _learning_rate(self.model)
            if rate is not None:
                row["epoch/learning_rate"] = rate
            self.run.log(row)

        def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.global_step += 1
            if self.batch_wise and batch % self.log_freq == 0:
                row = {f"batch/{k}": _scalar(v) for k, v in (logs or {}).items()}
                row["batch/batch_step"] = self.global_batch
                rate = _learning_rate(self.model)
                if rate is not None:
                    row["batch/learning_rate"] = rate
                self.run.log(row)
                self.global_batch += self.log_freq

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.on_batch_end(batch, logs)

    return WandbMetricsLogger


def _model_checkpoint(keras: Any) -> type:
    class WandbModelCheckpoint(keras.callbacks.ModelCheckpoint):
        """Keras' ModelCheckpoint that also logs each saved file as an artifact version."""

        def __init__(self, filepath: Any, *args: Any, **kwargs: Any):
            super().__init__(filepath, *args, **kwargs)
            _current_run()  # (a run must exist now, as W&B requires)

        @property
        def run(self) -> Any:
            return _current_run()  # the run current when a checkpoint is saved

        def _save_model(self, epoch: int, batch: int | None, logs: dict | None) -> None:
            """Keras saves each epoch (save_freq="epoch") or every N batches (an int): each
            saved file is also logged, aliased as W&B's callback does."""
            super()._save_model(epoch=epoch, batch=batch, logs=logs)
            alias = f"epoch_{epoch}" if batch is None else f"epoch_{epoch}_batch_{batch}"
            self._log_checkpoint(self._get_file_path(epoch, batch=batch, logs=logs), [alias])

        def _log_checkpoint(self, filepath: str, aliases: list[str]) -> None:
            from wandb_cli.sdk.files import Artifact

            if not os.path.exists(filepath):  # save_best_only and no improvement
                return
            artifact = Artifact(f"run_{self.run.id}_model", type="model")
            if os.path.isdir(filepath):
                artifact.add_dir(filepath)
            else:
                artifact.add_file(filepath)
            self.run.log_artifact(artifact, aliases=aliases)

    return WandbModelCheckpoint


def _scalar(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def __getattr__(name: str) -> type:
    if name not in CALLBACKS:
        raise AttributeError(f"module 'wandb.integration.keras' has no attribute {name!r}")
    if name not in _classes:
        import keras  # Keras 3; ImportError here names what is missing

        make = _metrics_logger if name == "WandbMetricsLogger" else _model_checkpoint
        _classes[name] = make(keras)
    return _classes[name]
