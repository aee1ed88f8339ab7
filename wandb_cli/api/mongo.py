"""W&B's MongoDB-style run filters (`Api().runs(filters={...})`) as predicates over runs.

Fields as W&B names them: `config.KEY` (a trailing `.value` is W&B's storage and ignored),
`summary_metrics.KEY`, `state`, `tags`, `displayName`/`display_name`, `name` (the run ID, as
in W&B), `createdAt`/`created_at` and `heartbeatAt` (ISO 8601 strings or POSIX seconds),
`duration`, `group`, `jobType`, `host`, `username`/`entity`, `notes`, `project`, and
wbrun's own keys (`slurm.job_id`, `dist.rank`).  Operators: $and $or $nor $not $eq $ne $gt
$gte $lt $lte $in $nin $exists $regex ($options "i").

Invariant: as in `--filter`, an ordering or equality matches only a present value of the
operand's own kind (a number against a number, a string against a string); as in MongoDB,
`$ne` and `$nin` also match a run that lacks the field (`$exists` asks for presence).  A
malformed filter is a UsageError naming the part that is wrong.
"""
from __future__ import annotations

import datetime as _dt
import operator
import re
from typing import Any, Callable

from wandb_cli.errors import UsageError
from wandb_cli.query.parse import KeyRef
from wandb_cli.query.values import key_getter
from wandb_cli.store.model import RunRecord

Predicate = Callable[[RunRecord], bool]

FIELDS = {
    "state": "state", "tags": "tags", "displayName": "name", "display_name": "name",
    "name": "id", "id": "id", "createdAt": "created", "created_at": "created",
    "heartbeatAt": "heartbeat", "heartbeat_at": "heartbeat", "duration": "runtime",
    "runtime": "runtime", "group": "group", "jobType": "job_type", "job_type": "job_type",
    "host": "host", "username": "entity", "entity": "entity", "notes": "notes",
    "description": "notes", "project": "project", "exit_code": "exit_code",
}
TIME_FIELDS = frozenset({"created", "heartbeat", "ended"})
_ORDER = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}


def field_key(name: str) -> KeyRef:
    """The wbrun key a W&B filter or order field names."""
    if name in FIELDS:
        return KeyRef("attr", (FIELDS[name],), name)
    scope, _, rest = name.partition(".")
    if scope in ("config", "summary_metrics", "summary", "slurm", "dist") and rest:
        path = tuple(rest.split("."))
        if scope == "config" and len(path) > 1 and path[-1] == "value":
            path = path[:-1]
        return KeyRef("summary" if scope.startswith("summary") else scope, path, name)
    raise UsageError(f"bad filter field {name!r}: use config.KEY, summary_metrics.KEY or one of "
                     f"{', '.join(sorted(FIELDS))}")


def _getter(key: KeyRef) -> Callable[[RunRecord], Any]:
    if key.scope == "attr":
        attribute = key.path[0]
        return lambda record: record.attribute(attribute)
    return key_getter(key)


def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _same_kind(a: Any, b: Any) -> bool:
    kind = _kind(a)
    return kind is not None and kind == _kind(b)


def _as_time(value: Any, field: str) -> Any:
    if isinstance(value, (list, tuple)):
        return [_as_time(v, field) for v in value]
    if isinstance(value, _dt.datetime):
        return value.timestamp() if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc).timestamp()
    if isinstance(value, str):
        from wandb_cli.query.filter import parse_timestamp

        try:
            seconds = parse_timestamp(value, _dt.timezone.utc)
        except ValueError as exc:
            raise UsageError(f"bad date {value!r} for {field}: {exc}") from None
        if seconds is None:
            raise UsageError(f"bad date {value!r} for {field}: use ISO 8601, e.g. 2024-01-01T12:00:00Z")
        return seconds
    return value


def compile_filters(filters: dict) -> Predicate:
    """A predicate for a W&B filter document."""
    if not isinstance(filters, dict):
        raise UsageError(f"filters must be a dict, got {type(filters).__name__}")
    parts = [_clause(name, condition) for name, condition in filters.items()]
    return lambda record: all(part(record) for part in parts)


def _clause(name: str, condition: Any) -> Predicate:
    if name in ("$and", "$or", "$nor"):
        if not isinstance(condition, list):
            raise UsageError(f"{name} takes a list of filters")
        parts = [compile_filters(item) for item in condition]
        if name == "$and":
            return lambda record: all(part(record) for part in parts)
        if name == "$or":
            return lambda record: any(part(record) for part in parts)
        return lambda record: not any(part(record) for part in parts)
    if name.startswith("$"):
        raise UsageError(f"unknown filter operator {name!r} at the top level")
    key = field_key(name)
    is_tags = key.scope == "attr" and key.path == ("tags",)
    is_time = key.scope == "attr" and key.path[0] in TIME_FIELDS
    get = _getter(key)
    if isinstance(condition, dict) and any(k.startswith("$") for k in condition):
        tests = [_operator(op, arg, condition, name, is_tags, is_time) for op, arg in condition.items()
                 if op != "$options"]
        return lambda record: all(test(get(record)) for test in tests)
    test = _operator("$eq", condition, {}, name, is_tags, is_time)
    return lambda record: test(get(record))


def _operator(op: str, arg: Any, siblings: dict, name: str, is_tags: bool, is_time: bool
              ) -> Callable[[Any], bool]:
    if is_time and op not in ("$exists", "$regex"):
        arg = _as_time(arg, name)
    if op == "$not":
        if not isinstance(arg, dict):
            raise UsageError(f"$not on {name} takes an operator document")
        inner = [_operator(k, v, arg, name, is_tags, is_time) for k, v in arg.items() if k != "$options"]
        return lambda value: not all(test(value) for test in inner)
    if op == "$exists":
        wanted = bool(arg)
        if is_tags:
            return lambda tags: bool(tags) is wanted
        return lambda value: (value is not None) is wanted
    if op == "$regex":
        return _regex(arg, siblings.get("$options", ""), name, is_tags)
    if is_tags:
        return _tags_operator(op, arg, name)
    if op in ("$eq", "$ne"):
        negate = op == "$ne"
        return lambda value: (_same_kind(value, arg) and value == arg) is not negate if value is not None \
            else (arg is None) is not negate
    if op in _ORDER:
        test = _ORDER[op]
        return lambda value: _same_kind(value, arg) and _kind(arg) != "bool" and test(value, arg)
    if op in ("$in", "$nin"):
        if not isinstance(arg, list):
            raise UsageError(f"{op} on {name} takes a list")
        negate = op == "$nin"
        return lambda value: any((_same_kind(value, a) and value == a) or (value is None and a is None)
                                 for a in arg) is not negate
    raise UsageError(f"unknown filter operator {op!r} on {name}")


def _regex(pattern: Any, options: str, name: str, is_tags: bool) -> Callable[[Any], bool]:
    try:
        search = re.compile(str(pattern), re.IGNORECASE if "i" in str(options) else 0).search
    except re.error as exc:
        raise UsageError(f"bad $regex {pattern!r} on {name}: {exc}") from None
    if is_tags:
        return lambda tags: any(isinstance(t, str) and search(t) for t in tags or ())
    return lambda value: isinstance(value, str) and search(value) is not None


def _tags_operator(op: str, arg: Any, name: str) -> Callable[[Any], bool]:
    """Tags are a set, as in W&B: {"tags": "x"} and $in ask for one of them."""
    wanted = set(arg) if isinstance(arg, list) else {arg}
    if op in ("$eq", "$in", "$all"):
        if op == "$all":
            return lambda tags: wanted <= set(tags or ())
        return lambda tags: not wanted.isdisjoint(tags or ())
    if op in ("$ne", "$nin"):
        return lambda tags: wanted.isdisjoint(tags or ())
    raise UsageError(f"{name} (a set of tags) takes $eq, $ne, $in, $nin, $all, $regex or $exists, not {op}")


def order_by(records: list[RunRecord], order: str) -> list[RunRecord]:
    """Runs in W&B's order (`+created_at`, `-summary_metrics.loss`, `config.lr.value`); no sign
    is ascending, as W&B's default `+created_at`; missing values last either way."""
    from wandb_cli.query.values import order_by as ordered

    text = (order or "+created_at").strip()
    key = field_key(text.lstrip("+-"))
    return ordered(records, [(_getter(key), text.startswith("-"))])
