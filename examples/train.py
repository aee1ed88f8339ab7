"""A simulated 10-epoch training loop logged with wbrun's SDK (a drop-in for wandb).

    wbrun -- python examples/train.py          # recorded as one run by the wrapper
    python examples/train.py                   # or on its own: the SDK makes the run
"""
import math
import random
import time

import wandb_cli as wandb

config = {"learning_rate": 0.02, "epochs": 10}
run = wandb.init(project="examples", config=config)

random.seed(0)
offset = random.random() / 5
for epoch in range(run.config["epochs"]):
    acc = 1 - 2 ** -(epoch + 2) - random.random() / (epoch + 2) - offset
    loss = 2 ** -(epoch + 2) + random.random() / (epoch + 2) + offset
    loss *= 1 + math.log1p(run.config["learning_rate"])
    run.log({"epoch": epoch, "accuracy": acc, "loss": loss})
    print(f"epoch {epoch}: accuracy {acc:.3f}, loss {loss:.3f}")
    time.sleep(0.05)

run.finish()
