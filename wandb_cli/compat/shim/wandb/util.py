"""`wandb.util`: the few helpers integrations call."""
from wandb_cli.store.ids import new_id


def generate_id(length: int = 8) -> str:
    from .sdk.lib.runid import generate_id as make

    return make(length)


def make_artifact_name_safe(name: str) -> str:
    import re

    cleaned = re.sub(r"[^a-zA-Z0-9_\-.]", "_", name)
    return cleaned[-128:]


__all__ = ["generate_id", "make_artifact_name_safe", "new_id"]
