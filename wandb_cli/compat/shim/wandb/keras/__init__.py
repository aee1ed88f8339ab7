"""`wandb.keras` (W&B's older path for the Keras callbacks)."""


def __getattr__(name):
    from wandb_cli.compat import keras

    return getattr(keras, name)
