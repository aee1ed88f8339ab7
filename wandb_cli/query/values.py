"""Reading a key's value from runs, and ordering values, the same way for filters, sorting,
grouping and columns.

Invariant: a key resolves once per collection of runs, never per run: an attribute if it
names one, else the summary metric, else the config key; a bare key found in both a summary
and a config of the runs queried is refused (UsageError) rather than guessed.  A getter
returns None for a missing value, so "missing" and "null" are one thing to every caller.
Sorting puts missing values (None, NaN, no tags) last in either direction.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import attrgetter, methodcaller
from typing import Any, Callable, Iterable, Sequence

from wandb_cli.errors import UsageError
from wandb_cli.query.parse import KeyRef, format_key, parse_key
from wandb_cli.store.model import ATTRIBUTES, CLUSTER_SCOPES, RunRecord
from wandb_cli.textfmt import NUMBER_TYPES, finite_sum

Getter = Callable[[RunRecord], Any]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def lookup(mapping: dict, path: tuple[str, ...]) -> Any:
    """The value at `path`, trying a literal dotted key before descending; MISSING if absent."""
    if len(path) == 1:
        return mapping.get(path[0], MISSING)
    for cut in range(len(path), 0, -1):
        head = ".".join(path[:cut])
        if head not in mapping:
            continue
        value = mapping[head]
        if cut == len(path):
            return value
        if isinstance(value, dict):
            found = lookup(value, path[cut:])
            if found is not MISSING:
                return found
    return MISSING


def _mapping_getter(scope: str, path: tuple[str, ...]) -> Getter:
    read = attrgetter(scope)
    if len(path) == 1:
        name = path[0]
        if scope == "summary":
            return lambda record: record.summary.get(name)
        if scope == "config":
            return lambda record: record.config.get(name)
        return lambda record: read(record).get(name)

    def get(record: RunRecord) -> Any:
        value = lookup(read(record), path)
        return None if value is MISSING else value

    return get


def _fallback_getter(path: tuple[str, ...]) -> Getter:
    """For a bare key none of the resolving runs has: summary, else config, per run read."""
    def get(record: RunRecord) -> Any:
        value = lookup(record.summary, path)
        if value is MISSING:
            value = lookup(record.config, path)
        return None if value is MISSING else value

    return get


class KeyResolver:
    """Decides bare keys over one collection of runs, remembering each answer.

    The top-level config and summary names of all runs are gathered once, so a key no run
    has is settled without visiting every run again."""

    def __init__(self, records: Sequence[RunRecord]):
        # (read more than once: an iterator given is taken whole first)
        self.records = records if isinstance(records, (list, tuple)) else list(records)
        self.decided: dict[tuple[str, ...], str | None] = {}
        self._names: tuple[set, set] | None = None
        self._mappings: dict[str, list] = {}
        self._read: set[str] = set()  # the deferred fields read_deferred has set on the records

    def mappings(self, scope: str) -> list:
        """Each record's config or summary, gathered once for every column of that scope
        (20,000 runs scattered among 100,000: ~5 ms a gathering here)."""
        if scope not in self._mappings:
            self._mappings[scope] = list(map(attrgetter(scope), self.records))
        return self._mappings[scope]

    def names(self) -> tuple[set, set]:
        if self._names is None:  # (C-level passes: 100,000 runs ~0.06 -> ~0.035 s)
            self._names = (set(chain.from_iterable(map(attrgetter("summary"), self.records))),
                           set(chain.from_iterable(map(attrgetter("config"), self.records))))
        return self._names

    def holds(self, scope: str, names: set, path: tuple[str, ...]) -> bool:
        heads = {".".join(path[:cut]) for cut in range(1, len(path) + 1)}
        if names.isdisjoint(heads):
            return False
        if len(path) == 1:
            return True
        read = attrgetter(scope)
        return any(lookup(read(r), path) is not MISSING for r in self.records)

    def resolve(self, key: KeyRef | str) -> KeyRef:
        """`key` with its scope decided (UsageError if a bare key is ambiguous)."""
        if isinstance(key, str):
            key = parse_key(key)
        if key.scope is not None:
            return key
        if key.path not in self.decided:
            summary_names, config_names = self.names()
            in_summary = self.holds("summary", summary_names, key.path)
            in_config = self.holds("config", config_names, key.path)
            if in_summary and in_config:
                raise UsageError(
                    f"key '{key.text}' is both a summary metric and a config key: "
                    f"write summary.{key.text} or config.{key.text}"
                )
            self.decided[key.path] = "summary" if in_summary else "config" if in_config else None
        scope = self.decided[key.path]
        return key if scope is None else KeyRef(scope, key.path, key.text, key.pos)

    def getter(self, key: KeyRef | str) -> Getter:
        return key_getter(self.readable(key))

    def readable(self, key: KeyRef | str) -> KeyRef:
        """`key` resolved, for reading it over the records: where it reads a field the index
        leaves unparsed until asked (`command`, `slurm.*`, `dist.*`; store/layout.py:
        DEFERRED_FIELDS), that field is first set on all of them at once (100,000 runs: one
        Python call a run, ~0.05 s, saved)."""
        key = self.resolve(key)
        name = key.path[0] if key.scope == "attr" else key.scope if key.scope in CLUSTER_SCOPES else None
        if name is not None and name not in self._read:
            from wandb_cli.store.layout import DEFERRED_FIELDS, read_deferred

            if name in DEFERRED_FIELDS:
                read_deferred(self.records, (name,))
            self._read.add(name)
        return key


def resolve(key: KeyRef | str, records: Sequence[RunRecord]) -> KeyRef:
    """`key` with its scope decided over `records` (UsageError if a bare key is ambiguous)."""
    return KeyResolver(records).resolve(key)


def key_getter(key: KeyRef) -> Getter:
    """A function reading `key` from a run; None when the run lacks it."""
    if key.scope == "attr":
        name = key.path[0]
        if name in ("runtime", "command"):
            return lambda record: record.attribute(name)
        return attrgetter(name)
    if key.scope is None:
        return _fallback_getter(key.path)
    return _mapping_getter(key.scope, key.path)


def value_getter(key: KeyRef | str, records: Sequence[RunRecord]) -> Getter:
    """Resolve `key` over `records` once, then read it from any run: the fast path for columns
    (several keys over the same runs: use one `KeyResolver` and its `getter`)."""
    return KeyResolver(records).getter(key)


def get_value(record: RunRecord, key: KeyRef | str) -> Any:
    """`key`'s value in one run (None when missing), resolving a bare key against that run."""
    return value_getter(key, (record,))(record)


# -- discovering keys ----------------------------------------------------------------------
@dataclass
class KeyCounts:
    """How many runs have each key; each mapping ordered by count (descending), then first seen.

    Config and summary keys are leaf paths into nested dicts, written as `parse_key` reads
    them (without the scope prefix); `qualified()` adds the prefixes."""

    attributes: dict[str, int] = field(default_factory=dict)
    config: dict[str, int] = field(default_factory=dict)
    summary: dict[str, int] = field(default_factory=dict)

    def qualified(self) -> list[str]:
        """Every key with its prefix: attributes, then config.<k>, then summary.<k>."""
        return [*self.attributes, *(f"config.{k}" for k in self.config),
                *(f"summary.{k}" for k in self.summary)]


def leaf_paths(mapping: dict, prefix: tuple[str, ...] = ()) -> Iterable[tuple[str, ...]]:
    for name, value in mapping.items():
        path = (*prefix, str(name))
        # A dict with a "_type" is one W&B value (a histogram, a table), not a namespace.
        if isinstance(value, dict) and value and "_type" not in value:
            yield from leaf_paths(value, path)
        else:
            yield path


def _by_count(counts: dict, text: Callable[[Any], str] = str) -> dict[str, int]:
    return {text(name): n for name, n in sorted(counts.items(), key=lambda item: -item[1])}


_PRESENT = {name: attrgetter(name) for name in ATTRIBUTES}  # "command": the list, not shlex text
_PRESENT["runtime"] = attrgetter("runtime")


def collect_keys(records: Iterable[RunRecord], *, attributes_too: bool = True,
                 scopes: Sequence[str] = ("config", "summary")) -> KeyCounts:
    """The attributes that have a value (unless not wanted), and the config and summary
    keys (those of `scopes`), in these runs."""
    attributes: dict[str, int] = {}
    config: dict[tuple, int] = {}
    summary: dict[tuple, int] = {}
    present = _PRESENT.items() if attributes_too else ()
    if attributes_too:  # (each record's `command` read: set on all at once, see KeyResolver.readable)
        from wandb_cli.store.layout import read_deferred

        records = records if isinstance(records, (list, tuple)) else list(records)
        read_deferred(records, ("command",))
    top: dict[str, tuple[str, ...]] = {}  # one path tuple per top-level name, made once
    walked = [(scope, config if scope == "config" else summary) for scope in scopes]
    for record in records:
        for name, read in present:
            if read(record) not in (None, "", []):
                attributes[name] = attributes.get(name, 0) + 1
        for scope, counts in walked:
            for name, value in (record.config if scope == "config" else record.summary).items():
                if type(value) is dict and value and "_type" not in value:
                    for path in leaf_paths(value, (str(name),)):
                        counts[path] = counts.get(path, 0) + 1
                    continue
                path = top.get(name) or top.setdefault(name, (str(name),))
                counts[path] = counts.get(path, 0) + 1
    bare = lambda path: format_key("config", path)[len("config."):]
    return KeyCounts(_by_count(attributes), _by_count(config, bare), _by_count(summary, bare))


def numeric_leaf_counts(records: Iterable[RunRecord], scope: str = "summary") -> dict[tuple, int]:
    """Leaf path -> how many of the runs hold a number (not a bool) there.

    Top-level keys are counted by `_kinds_of` (C-level iteration); only keys holding a
    namespace (a dict without `_type`) are walked in Python."""
    mappings = list(map(attrgetter(scope), records))
    counts: dict[tuple, int] = {}
    nested = set()
    for (name, kind), n in _kinds_of(mappings).items():
        if kind in NUMBER_TYPES:
            counts[(str(name),)] = counts.get((str(name),), 0) + n
        elif kind is dict:
            nested.add(name)
    for name in nested:
        for mapping in mappings:
            value = mapping.get(name)
            if type(value) is dict and value and "_type" not in value:
                for path in leaf_paths(value, (str(name),)):
                    if type(lookup(value, path[1:])) in NUMBER_TYPES:
                        counts[path] = counts.get(path, 0) + 1
    return counts


def leaf_key_paths(records: Iterable[RunRecord], scope: str = "config") -> set[tuple]:
    """The leaf paths `collect_keys` finds in `scope`, as a set, with C-level iteration over
    the top-level keys (see numeric_leaf_counts)."""
    mappings = list(map(attrgetter(scope), records))
    seen: Counter = Counter()
    nested = set()
    for (name, kind), n in _kinds_of(mappings).items():
        seen[name] += n
        if kind is dict:
            nested.add(name)
    paths: set[tuple] = set()
    for name, times in seen.items():
        namespaces = 0
        if name in nested:
            for mapping in mappings:
                value = mapping.get(name)
                if type(value) is dict and value and "_type" not in value:
                    namespaces += 1
                    paths.update(leaf_paths(value, (str(name),)))
        if times > namespaces:
            paths.add((str(name),))
    return paths


def _kinds_of(mappings: list[dict]) -> Counter:
    """(top-level name, type of its value) -> how many of `mappings` hold that, in one
    C-level sweep over every key and every value (a dict yields both in the same order):
    100,000 runs' summaries in ~0.2 s here, where a sweep per name took ~0.2 s each."""
    return Counter(zip(chain.from_iterable(mappings),
                       map(type, chain.from_iterable(map(dict.values, mappings)))))


def values_of(key: KeyRef, records: Iterable[RunRecord], mappings: list | None = None) -> list:
    """`key_getter(key)` over `records`; for a top-level config or summary key with
    C-level maps (no Python call per run; `dict.get` unbound, not a method looked up on
    each mapping: 20,000 runs ~9 -> ~4 ms a key).  `mappings`: the records' mappings of
    that scope, where the caller has them (KeyResolver.mappings)."""
    if key.scope in ("summary", "config") and len(key.path) == 1:
        if mappings is None:
            mappings = list(map(attrgetter(key.scope), records))
        try:
            return list(map(dict.get, mappings, repeat(key.path[0])))
        except TypeError:  # (a mapping that is no dict)
            return list(map(methodcaller("get", key.path[0]), mappings))
    return list(map(key_getter(key), records))


# -- ordering values of mixed types ------------------------------------------------------
def sort_rank(value: Any, descending: bool) -> tuple:
    """A sort key putting missing (None, NaN, empty list) last whichever the direction.

    Present values order numbers < strings < booleans < anything else (by its text), so
    mixed columns sort the same way every time; the caller sorts with reverse=descending."""
    kind = type(value)
    if kind in NUMBER_TYPES and not (kind is float and math.isnan(value)):
        return (1, 0, value)
    if value is None or kind is float or (kind is list and not value):
        return (0,) if descending else (2,)
    if kind is str:
        return (1, 1, value)
    if kind is bool:
        return (1, 2, value)
    if isinstance(value, (list, tuple)):
        return (1, 3, ", ".join(map(str, value)))
    return (1, 3, str(value))


def order_by(items: Iterable[Any], columns: Sequence[tuple[Callable[[Any], Any], bool]]) -> list:
    """`items` sorted stably by each (value function, descending) in turn, the first most
    significant; missing values last in either direction (see `sort_rank`)."""
    ordered = list(items)
    for value_of, descending in reversed(columns):
        ranks = list(map(value_of, ordered))
        # all plain finite numbers (the usual metric) are their own ranks: sort_rank would
        # rank each as (1, 0, value), the same stable order (28,456 runs by val_loss ~0.04
        # -> ~0.01 s); anything else is ranked one value at a time
        if not (set(map(type, ranks)) <= NUMBER_TYPES and finite_sum(ranks) is not None):
            ranks = [sort_rank(value, descending) for value in ranks]
        positions = sorted(range(len(ranks)), key=ranks.__getitem__, reverse=descending)
        ordered = list(map(ordered.__getitem__, positions))
    return ordered


@dataclass(frozen=True)
class SortKey:
    key: KeyRef
    descending: bool = False

    @property
    def text(self) -> str:
        return ("-" if self.descending else "") + self.key.text


NEWEST_FIRST = SortKey(KeyRef("attr", ("created",), "created"), descending=True)


def parse_sort_key(text: str) -> SortKey:
    """`KEY` ascending, `-KEY` descending (`+KEY` is also ascending); UsageError if malformed."""
    stripped = text.strip()
    if stripped[:1] in ("-", "+"):
        return SortKey(parse_key(stripped[1:]), descending=stripped[0] == "-")
    return SortKey(parse_key(stripped))


def sort_runs(records: Sequence[RunRecord], keys: Sequence[str] = (), *,
              resolver: KeyResolver | None = None) -> list[RunRecord]:
    """Runs sorted by each key in turn (stable; missing values last either way); with no
    keys, newest first.  Bare keys are resolved over `records` unless a resolver is given."""
    specs = [parse_sort_key(text) for text in keys] or [NEWEST_FIRST]
    resolver = resolver or KeyResolver(records)
    return order_by(records, [(resolver.getter(s.key), s.descending) for s in specs])
