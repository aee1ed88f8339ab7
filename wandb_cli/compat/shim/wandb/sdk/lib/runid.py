"""`wandb.sdk.lib.runid.generate_id`: an 8-character run ID, as W&B makes them."""
from wandb_cli.store.ids import new_id


def generate_id(length: int = 8) -> str:
    return new_id()[:length] if length <= 8 else new_id() + generate_id(length - 8)
