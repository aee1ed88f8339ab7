"""A training script written as any W&B user writes it: `import wandb`, init with a config,
log scalars every step, an image and a table of predictions at the end.

Run it under wbrun (no W&B account, nothing leaves the machine):

    wbrun -- python examples/train_wandb.py
"""
import math
import random

import numpy as np
import wandb

run = wandb.init(project="quickstart", config={"lr": 0.01, "epochs": 20, "batch_size": 32})
config = wandb.config
random.seed(0)

for epoch in range(config.epochs):
    loss = math.exp(-config.lr * 10 * epoch) + random.random() * 0.05
    acc = 1 - loss / 2
    wandb.log({"epoch": epoch, "loss": loss, "accuracy": acc})

# a 32x32 picture of what the "model" learned, and a table of its predictions
pixels = (np.outer(np.linspace(0, 255, 32), np.ones(32))).astype(np.uint8)
predictions = wandb.Table(columns=["id", "label", "prediction", "confidence"])
for i in range(8):
    label = i % 3
    predictions.add_data(i, label, (label + (i == 5)) % 3, round(0.6 + i / 25, 3))
wandb.log({"samples": wandb.Image(pixels, caption="learned filter"), "predictions": predictions})

wandb.finish()
