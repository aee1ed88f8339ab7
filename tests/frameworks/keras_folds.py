"""Keras 3 (torch backend): callbacks built once and kept across folds (finish() and a new
init() each), and a checkpoint every 2 batches (save_freq=2)."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras
import numpy as np
import wandb
from wandb.integration.keras import WandbMetricsLogger, WandbModelCheckpoint

x, y = np.random.rand(16, 3).astype("float32"), np.random.rand(16, 1).astype("float32")
wandb.init(project="kfold", name="fold0")
callbacks = [WandbMetricsLogger(),
             WandbModelCheckpoint("ck/m_{epoch}_{batch}.weights.h5", save_weights_only=True, save_freq=2)]
for fold in range(2):
    if fold:
        wandb.init(project="kfold", name=f"fold{fold}")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=callbacks)
    wandb.finish()
