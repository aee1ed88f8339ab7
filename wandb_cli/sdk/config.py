"""`run.config`: W&B's config dict, persisted to `files/config.json` on every change.

W&B's rules: `update()` takes a dict, an `argparse.Namespace`, absl/TF flags or any object
with a `__dict__`; a key that already has a different value is refused with `ConfigError`
unless `allow_val_change=True`; `setdefaults()` only adds missing keys; leading dashes are
stripped from keys (`--lr` is `lr`). Values are checked JSON-serializable before anything
is written, so a refused update changes neither memory nor disk.
"""
from __future__ import annotations

import sys
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, Iterator

from wandb_cli.errors import UsageError
from wandb_cli.store import jsonio
from wandb_cli.store.layout import CONFIG

if TYPE_CHECKING:
    from wandb_cli.store.recorder import LiveRun


class ConfigError(UsageError):
    """W&B's `wandb.sdk.lib.config_util.ConfigError`: a config value may not change."""


def config_dict(params: Any, *, exclude: Any = None, include: Any = None) -> dict:
    """A plain dict from what W&B accepts as config (see the module docstring)."""
    if params is None:
        values: dict = {}
    elif isinstance(params, dict):
        values = dict(params)
    elif isinstance(params, Config):
        values = params.as_dict()
    elif hasattr(params, "flag_values_dict"):  # absl.flags.FLAGS, tf.app.flags
        values = dict(params.flag_values_dict())
    elif isinstance(params, MutableMapping) or hasattr(params, "keys"):
        values = dict(params)
    elif hasattr(params, "__dict__"):  # argparse.Namespace, simple objects, dataclasses
        values = {k: v for k, v in vars(params).items() if not k.startswith("_")}
    elif isinstance(params, str):
        values = _yaml_file(params)
    else:
        raise TypeError(f"config must be a dict or an object with attributes, not "
                        f"{type(params).__name__}")
    if include:
        values = {k: v for k, v in values.items() if k in set(include)}
    if exclude:
        values = {k: v for k, v in values.items() if k not in set(exclude)}
    return {str(k).strip("-"): _plain(v) for k, v in values.items()}


def _plain(value: Any) -> Any:
    """A JSON-able form of a config value, as W&B stores it: numpy/torch values as
    Python ones, enums by value, dataclasses as dicts, tuples and sets as lists, paths and
    other objects as their `str()` (a config is a record of what was run, never refused)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and type(value).__module__.split(".")[0] in ("numpy", "torch"):
        return _plain(value.tolist())
    import dataclasses
    import enum

    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    return str(value)


def _yaml_file(path: str) -> dict:
    """W&B's `config="params.yaml"`: the file's mapping (`wandb_version` dropped)."""
    try:
        import yaml
    except ImportError:
        raise UsageError(f"config={path!r}: reading a YAML file needs PyYAML") from None
    try:
        with open(path, encoding="utf-8") as fh:
            loaded = yaml.safe_load(fh) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping")
    loaded.pop("wandb_version", None)
    return {k: v.get("value", v) if isinstance(v, dict) and "value" in v else v
            for k, v in loaded.items()}


class Config(MutableMapping):
    """`run.config`: a dict that persists every change (attribute access works too)."""

    def __init__(self, live: LiveRun | None, initial: dict, locked: frozenset[str] = frozenset()):
        object.__setattr__(self, "_live", live)
        object.__setattr__(self, "_data", dict(initial))
        # keys `wbrun -c`/`--config-file` set: the program's changes to them are ignored,
        # with a warning, as W&B ignores a program's changes to a sweep's keys
        object.__setattr__(self, "_locked", locked)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        if self._live is not None:
            jsonio.write_json_atomic(self._live.paths.file(CONFIG), self._data)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, other: Any = None, /, allow_val_change: bool | None = None, **kwargs: Any) -> None:
        """Add or change keys; changing a key's value needs `allow_val_change=True`."""
        values = {**config_dict(other), **config_dict(kwargs)}
        for key in [key for key in values if key in self._locked and values[key] != self._data.get(key)]:
            print(f"wbrun: warning: config key {key!r} was set by `wbrun -c`/--config-file; the "
                  f"program's change to {values.pop(key)!r} is ignored (as for a W&B sweep's keys)",
                  file=sys.stderr)
        if not allow_val_change:
            for key, value in values.items():
                # `_wandb` and other `_` keys are W&B's own (chart specs): never locked
                if key in self._data and self._data[key] != value and not key.startswith("_"):
                    raise ConfigError(
                        f"Attempted to change value of key {key!r} from {self._data[key]!r} to "
                        f"{value!r}; if you really want to do this, pass allow_val_change=True "
                        "to config.update()")
        self._write(values)

    def setdefaults(self, other: Any) -> None:
        """Add the keys of `other` that are not set yet."""
        self._write({k: v for k, v in config_dict(other).items() if k not in self._data})

    def _write(self, values: dict) -> None:
        if not values:
            return
        if self._live is not None:
            self._live.update_config(values)
        else:
            jsonio.dumps(values)
        self._data.update(values)

    def persist(self) -> None:
        """W&B's explicit save: every change is already on disk."""

    def as_dict(self) -> dict:
        return dict(self._data)

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def __repr__(self) -> str:
        return f"Config({self._data!r})"
