"""The names and tags of a wbrun run in MLflow: which names MLflow takes, and the tags a run
maps to (docs/sync.md, Mapping).

Invariants: `valid_key` is MLflow's own rule for metric, param and tag names (mirrored from
mlflow.utils.validation; tests/test_sync_units.py compares the two); the tags wbrun may
delete from a remote run (`managed_tags`) are only those it sets: `wbrun.*` (never the run
ID or the progress marks), the note, and the W&B tags the run's `wbrun.tags` lists.
"""
from __future__ import annotations

import re
from typing import Any

from wandb_cli.store import jsonio
from wandb_cli.store.model import RunRecord
from wandb_cli.sync import source

MAX_KEY = 250
RUN_ID_TAG = "wbrun.run_id"
STEP_TAG, EVENTS_TAG = "wbrun.synced_step", "wbrun.synced_events"
RESERVED_PREFIXES = ("mlflow.", "wbrun.")  # tag names that are MLflow's or ours, never a user's
# mlflow.utils.validation.validate_param_and_metric_name (POSIX servers): `\w` is any
# Unicode word character (`ключ`, `accuracy_δ`), and `$` also matches before a final newline
_KEY_PATTERN = re.compile(r"^[/\w.\- :]*$")


def valid_key(key: str) -> bool:
    """MLflow's rule for metric, param and tag names."""
    return key_problem(key) is None


def key_problem(key: str) -> str | None:
    """Why MLflow refuses `key` as a name, None when it takes it: its characters
    (validate_param_and_metric_name), a name that normalizes to another (path_not_unique),
    more than MAX_KEY characters (MAX_ENTITY_KEY_LENGTH)."""
    import posixpath

    if not key:
        return "is empty"
    if len(key) > MAX_KEY:
        return f"is {len(key)} characters, over MLflow's {MAX_KEY} for a name"
    if not _KEY_PATTERN.match(key):
        return "has characters MLflow refuses in a name (letters, digits, _ - . / : and space only)"
    norm = posixpath.normpath(key)
    if norm != key or norm == "." or norm.startswith(("..", "/")):
        return f"is a name MLflow refuses as a path (it reads as {norm!r})"
    return None


def param_text(value: Any) -> str:
    """A config value as an MLflow param: strings as they are, everything else as JSON."""
    return value if isinstance(value, str) else jsonio.dumps(value).decode()


def desired_tags(record: RunRecord) -> dict[str, str]:
    """The MLflow tags a wbrun run maps to (docs/sync.md)."""
    tags = {
        RUN_ID_TAG: record.id, "mlflow.runName": record.name, "wbrun.project": record.project,
        "wbrun.entity": record.entity, "wbrun.state": record.state, "wbrun.host": record.host,
        "wbrun.command": record.command_line, "wbrun.tags": jsonio.dumps(list(record.tags)).decode(),
    }
    if record.entity:
        tags["mlflow.user"] = record.entity
    optional = {"mlflow.note.content": record.notes, "wbrun.group": record.group,
                "wbrun.job_type": record.job_type,
                "mlflow.source.git.commit": source.git_commit(record.dir)}
    tags.update({k: v for k, v in optional.items() if v})
    for scope in ("slurm", "dist"):
        for key, value in (getattr(record, scope, None) or {}).items():
            tags[f"wbrun.{scope}.{key}"] = param_text(value)
    tags.update((tag, "") for tag in wandb_tag_names(record.tags))
    return tags


def wandb_tag_names(tags: list) -> list[str]:
    """The W&B tags that become MLflow tags of their own (names MLflow takes, not its or ours)."""
    return [tag for tag in tags if isinstance(tag, str) and valid_key(tag)
            and not tag.startswith(RESERVED_PREFIXES)]


def managed_tags(remote: dict[str, str]) -> dict[str, str]:
    """The tags of a remote run that wbrun set there and may delete: `wbrun.*` (not the ID
    or the progress marks), the note, and each W&B tag the run's `wbrun.tags` lists."""
    try:
        listed = jsonio.loads(remote.get("wbrun.tags", "[]"))
    except ValueError:  # cut at to_mlflow.MAX_TAG_VALUE: its own tags are then left alone
        listed = []
    names = set(wandb_tag_names(listed if isinstance(listed, list) else []))
    names.add("mlflow.note.content")
    return {key: value for key, value in remote.items() if key in names or (
        key.startswith("wbrun.") and key not in (RUN_ID_TAG, STEP_TAG, EVENTS_TAG))}
