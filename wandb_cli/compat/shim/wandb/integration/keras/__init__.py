"""`wandb.integration.keras`: WandbMetricsLogger and WandbModelCheckpoint (Keras 3)."""


def __getattr__(name):
    from wandb_cli.compat import keras

    return getattr(keras, name)
