"""accelerate Accelerator(log_with="wandb")."""
from accelerate import Accelerator

accelerator = Accelerator(log_with="wandb", cpu=True)
accelerator.init_trackers("acc-proj", config={"lr": 0.01, "epochs": 3},
                          init_kwargs={"wandb": {"name": "acc-run", "tags": ["acc"]}})
for step in range(3):
    accelerator.log({"loss": 1.0 / (step + 1)}, step=step)
accelerator.end_training()
