"""W&B's quickstart as any W&B user writes it: run it unchanged with `wbrun -- python3 examples/wandb_quickstart.py`."""
import random

import wandb

run = wandb.init(project="quickstart", config={"learning_rate": 0.02, "epochs": 10})
wandb.define_metric("acc", summary="max")
offset = random.random() / 5
for epoch in range(2, run.config.epochs + 2):
    acc = 1 - 2**-epoch - random.random() / epoch - offset
    loss = 2**-epoch + random.random() / epoch + offset
    wandb.log({"acc": acc, "loss": loss})
run.finish()
