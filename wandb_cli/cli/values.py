"""Argument helpers with no Typer in them, shared by the Typer commands and the fast paths."""
from __future__ import annotations

import json
from pathlib import Path

from wandb_cli.errors import UsageError
from wandb_cli.store.bigdoc import DOC_LIMIT

# The largest --config-file wbrun reads: the listing limit of a config (1 MiB; a config is a
# few KB); /dev/zero or a data file given by mistake is refused at once instead of filling
# memory.  See README "Wrapping".
MAX_CONFIG_FILE_BYTES = DOC_LIMIT


def open_store(dir_option: Path | None):
    """The store of --dir (else WBRUN_DIR, else ./wandb); StoreError when that path is
    something other than a folder (a store not made yet reads as empty)."""
    import stat

    from wandb_cli.errors import StoreError
    from wandb_cli.store.layout import Store, resolve_root

    root = resolve_root(dir_option)
    try:
        mode = root.stat().st_mode
    except FileNotFoundError:
        return Store(root)
    except OSError as exc:  # a file on the way (ENOTDIR), no permission (EACCES)
        raise StoreError(f"cannot open the store {root}: {exc.strerror}") from None
    if not stat.S_ISDIR(mode):
        raise StoreError(f"the store {root} is not a directory")
    return Store(root)


def parse_value(raw: str):
    """A value that parses as JSON is taken as JSON, else as a string (a JSON value nested
    too deeply to store is refused: UsageError)."""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    except RecursionError:
        raise UsageError("JSON value nested too deeply") from None
    check_storable(value, "JSON value")
    return value


def check_storable(value, what: str) -> None:
    """UsageError unless `value` can be written as JSON (e.g. it is nested too deeply)."""
    from wandb_cli.store import jsonio

    try:
        jsonio.dumps(value)
    except TypeError as exc:
        raise UsageError(f"{what} cannot be stored: {exc}") from None


def parse_pairs(pairs: list[str], what: str) -> dict:
    values: dict = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"bad {what} {pair!r}: expected KEY=VALUE")
        try:
            values[key.strip()] = parse_value(raw)
        except UsageError as exc:
            raise UsageError(f"bad {what} {key.strip()!r}: {exc}") from None
    return values


def read_limited(path: str, what: str, limit: int = MAX_CONFIG_FILE_BYTES) -> bytes:
    """The bytes of `path`, refused (UsageError) past `limit` bytes without reading more."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise UsageError(f"{what} {path} is larger than {limit:,} bytes; a config file is at "
                         f"most {limit // 1024 // 1024} MiB")
    return data


def check_format(fmt: str, allowed: tuple[str, ...]) -> str:
    if fmt not in allowed:
        raise UsageError(f"bad --format {fmt!r}: choose {', '.join(allowed)}")
    return fmt


#END
