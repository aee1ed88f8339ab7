"""Talking to other trackers: pushing runs to MLflow and W&B, importing runs from them.

Every module here imports the other tracker's library inside the functions that need it, so
`wbrun` without the `mlflow` or `wandb` extra still starts; `need()` turns a missing one into
a UsageError naming the extra to install.
"""
