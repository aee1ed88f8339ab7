"""Keras 3 (torch backend) with WandbMetricsLogger and WandbModelCheckpoint."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras
import numpy as np
import wandb
from wandb.integration.keras import WandbMetricsLogger, WandbModelCheckpoint

run = wandb.init(project="keras", config={"epochs": 2})
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
x, y = np.random.rand(32, 4), np.random.rand(32, 1)
model.fit(x, y, epochs=2, batch_size=8, verbose=0, validation_data=(x, y),
          callbacks=[WandbMetricsLogger(), WandbModelCheckpoint("model.keras")])
run.finish()
