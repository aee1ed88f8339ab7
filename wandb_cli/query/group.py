"""Group runs by the values of one or more keys, with counts, statistics and a histogram.

Invariant: every run lands in exactly one group, the one for its tuple of values; a run
missing a key (None, or no tags) is in that key's `(none)` group, whose value is None.
Statistics use only finite numbers (bools, NaN and infinities are left out, and `n` says how
many were used); `std` is the sample standard deviation (n - 1), None below two values.
Histogram bins span the chosen key's range over all the runs, so groups compare by eye.
"""
from __future__ import annotations

import math
import operator
from collections import Counter
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter
from typing import Any, Callable, Iterable, Mapping, Sequence

from wandb_cli.errors import UsageError
from wandb_cli.query.values import KeyResolver, key_getter, order_by, parse_sort_key, sort_runs, values_of
from wandb_cli.store.model import STATES, RunRecord
from wandb_cli.textfmt import NUMBER_TYPES, SPARK_BARS, finite_sum

NONE_LABEL = "(none)"


def finite_numbers(values: Iterable[Any]) -> list[float]:
    """The finite ints and floats among `values`: the list itself, after C-level passes
    only, when all are (the usual case)."""
    values = values if isinstance(values, list) else list(values)
    if _plain_total(values) is not None:
        return values
    isfinite = math.isfinite
    return [v for v in values if type(v) in NUMBER_TYPES and isfinite(v)]


@dataclass
class ColumnStats:
    """Statistics of one column's finite numeric values in a group."""

    n: int
    mean: float | None = None
    min: float | None = None
    max: float | None = None
    std: float | None = None

    @classmethod
    def of(cls, values: Iterable[Any]) -> ColumnStats:
        values = values if isinstance(values, list) else list(values)
        total = _plain_total(values)  # all plain finite numbers: no Python-level filtering
        numbers = values if total is not None else finite_numbers(values)
        if not numbers:
            return cls(0)
        n = len(numbers)
        if total is None:
            try:
                total = math.fsum(numbers)
            except OverflowError:  # finite values whose sum is not (1e308 twice)
                total = None
        mean = total / n if total is not None else math.fsum(x / n for x in numbers)
        std = None
        if n > 1:
            squares = map(pow, map(operator.sub, numbers, repeat(mean)), repeat(2))
            try:
                std = math.sqrt(math.fsum(squares) / (n - 1))
            except OverflowError:  # deviations past 1e154: their squares are not finite
                std = math.inf
        return cls(n, mean, min(numbers), max(numbers), std)

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "min": self.min, "max": self.max, "std": self.std}


def _plain_total(values: list) -> float | None:
    """The exact sum of `values` when all are plain numbers with a finite sum (so none is
    NaN or infinite), else None; C-level passes only."""
    return finite_sum(values) if set(map(type, values)) <= NUMBER_TYPES else None


@dataclass
class Group:
    """One distinct tuple of group-by values (None for a `(none)` member) and its runs."""

    keys: tuple[str, ...]
    values: tuple[Any, ...]
    runs: list[RunRecord]
    states: dict[str, int]
    stats: dict[str, ColumnStats]
    histogram: list[int]
    spark: str

    @property
    def count(self) -> int:
        return len(self.runs)

    @property
    def labels(self) -> tuple[str, ...]:
        """The values as text, `(none)` for a missing one."""
        return tuple(_label(value) for value in self.values)

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable form for `--format json` (missing values are null)."""
        return {
            "group": dict(zip(self.keys, self.values)),
            "count": self.count,
            "states": dict(self.states),
            "stats": {column: stats.to_dict() for column, stats in self.stats.items()},
            "histogram": list(self.histogram),
            "spark": self.spark,
            "runs": [record.id for record in self.runs],
        }


def _label(value: Any) -> str:
    if value is None:
        return NONE_LABEL
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def _identity(value: Any) -> tuple:
    """A hashable stand-in that keeps True apart from 1 and makes every NaN one group."""
    kind = type(value)
    if value is None:
        return (0,)
    if kind is float and math.isnan(value):
        return (1,)
    if kind is bool:
        return (2, value)
    if kind in NUMBER_TYPES:
        return (3, value)
    if kind is str:
        return (4, value)
    if isinstance(value, (list, tuple)):
        return (5, tuple(_identity(item) for item in value))
    return (6, repr(value))


def count_states(runs: Iterable[RunRecord]) -> dict[str, int]:
    """Runs per state, known states in their usual order first."""
    counts = Counter(map(attrgetter("state"), runs))
    rank = {state: index for index, state in enumerate(STATES)}
    return dict(sorted(counts.items(), key=lambda item: rank.get(item[0], len(STATES))))


@dataclass(frozen=True)
class _Bins:
    low: float
    high: float
    count: int

    @classmethod
    def spanning(cls, values: Iterable[Any], most: int) -> _Bins | None:
        numbers = finite_numbers(values)
        if not numbers:
            return None
        low, high = min(numbers), max(numbers)
        return cls(low, high, max(1, most) if high > low else 1)

    def histogram(self, values: Iterable[Any]) -> list[int]:
        """How many finite values fall in each bin (those outside the span in the end bins);
        each value's bin computed by C-level maps, then tallied."""
        numbers = finite_numbers(values)
        counts = [0] * self.count
        low, width = self.low, self.high - self.low
        if not width:
            counts[0] = len(numbers)
            return counts
        if math.isinf(width):  # (a span past the largest float, -1e308 to 1e308: measured in halves)
            numbers = list(map(operator.truediv, numbers, repeat(2)))
            low, width = low / 2, self.high / 2 - low / 2
        offsets = map(operator.truediv, map(operator.sub, numbers, repeat(low)), repeat(width))
        for index, n in Counter(map(int, map(operator.mul, offsets, repeat(self.count)))).items():
            counts[min(max(index, 0), self.count - 1)] += n
        return counts


def sparkline(counts: Sequence[int]) -> str:
    """One block per bin, its height relative to the fullest bin; an empty bin is a space."""
    peak = max(counts, default=0)
    if not peak:
        return ""
    return "".join(
        " " if n == 0 else SPARK_BARS[math.ceil(n / peak * len(SPARK_BARS)) - 1]
        for n in counts
    )


def _order_groups(groups: list[Group], by_keys: list, sort: Sequence[str],
                  resolver: KeyResolver) -> list[Group]:
    """By group values ((none) last); when sorting, first by each sort key's aggregate: the
    group value for a group-by key, else the mean of its numbers, else the value of the
    group's first run (runs within a group are already sorted by the same keys)."""
    columns = [(lambda g, i=i: g.values[i], False) for i in range(len(by_keys))]
    ordered = order_by(groups, columns)
    sort_columns = []
    for spec in map(parse_sort_key, sort):
        key = resolver.resolve(spec.key)
        same = [i for i, k in enumerate(by_keys) if (k.scope, k.path) == (key.scope, key.path)]
        position = same[0] if same else None
        if position is not None:
            sort_columns.append((lambda g, i=position: g.values[i], spec.descending))
            continue
        get = resolver.getter(key)
        aggregates = {id(g): _aggregate(map(get, g.runs)) for g in groups}
        sort_columns.append((lambda g, a=aggregates: a[id(g)], spec.descending))
    return order_by(ordered, sort_columns)


def _aggregate(values: Iterable[Any]) -> Any:
    values = list(values)
    numbers = finite_numbers(values)
    if numbers:
        return math.fsum(numbers) / len(numbers)
    return next((v for v in values if v is not None), None)


def group_runs(records: Sequence[RunRecord], by: Sequence[str], *, stats: Sequence[str] = (),
               spark: str | None = None, sort: Sequence[str] = (), bins: int = 8,
               presorted: bool = False, known: Mapping[str, list] | None = None) -> list[Group]:
    """Groups of `records` by the keys `by` (one group per distinct value tuple).

    `stats`: columns to summarise (mean, min, max, std) in each group; `spark`: the key whose
    histogram each group draws (None: no histogram); `sort`: the --sort keys, ordering the
    runs inside each group and the groups themselves (see `_order_groups`); `presorted`:
    `records` are already in that order (as `narrow_runs` leaves them); `known`: the values
    of some of those keys over `records`, in their order, already read by the caller (with
    `presorted` only).  Each key is read once over all runs, and each group takes its
    runs' values by position (100,000 runs: one lookup per run and key, not a pass per
    group)."""
    if not by:
        raise UsageError("grouping needs at least one key")
    resolver = KeyResolver(records)
    by_keys = [resolver.readable(text) for text in by]
    getters = [key_getter(key) for key in by_keys]
    ordered = records if presorted else sort_runs(records, sort, resolver=resolver)
    known = known if presorted else None
    members = _partition(ordered, getters)

    def over_all(key: str) -> list:
        if known is not None and key in known:
            return known[key]
        return values_of(resolver.readable(key), ordered)

    columns = {column: over_all(column) for column in stats}
    spark_values = over_all(spark) if spark else None
    layout = _Bins.spanning(spark_values, bins) if spark_values is not None else None
    groups = []
    for values, positions in members:
        pick = _picker(positions)
        counts = layout.histogram(pick(spark_values)) if layout and spark_values is not None else []
        runs = pick(ordered)
        groups.append(Group(
            keys=tuple(by), values=values, runs=runs, states=count_states(runs),
            stats={column: ColumnStats.of(pick(column_values)) for column, column_values in columns.items()},
            histogram=counts, spark=sparkline(counts),
        ))
    return _order_groups(groups, by_keys, sort, resolver)


def _picker(positions: list[int]) -> Callable[[Sequence], list]:
    """The items of a sequence at `positions`, in order (C-level)."""
    return lambda items: list(map(items.__getitem__, positions))


def _partition(runs: Sequence[RunRecord], getters: list) -> list[tuple[tuple, list[int]]]:
    """(values, the positions in `runs` holding them) per distinct tuple of values, in order
    of first appearance."""
    members: dict[tuple, tuple[tuple, list[int]]] = {}
    if len(getters) == 1:  # the usual case, without the per-run generator (100,000 runs: 2x)
        (get,) = getters
        by_value: dict[Any, tuple[tuple, list[int]]] = {}
        for position, value in enumerate(map(get, runs)):
            if type(value) is str:  # a str is its own stand-in: no tuple to build
                hit = by_value.get(value)
                if hit is None:
                    hit = by_value[value] = members.setdefault((_identity(value),), ((value,), []))
                hit[1].append(position)
                continue
            value = _none_if_empty(value)
            members.setdefault((_identity(value),), ((value,), []))[1].append(position)
        return list(members.values())
    for position, record in enumerate(runs):
        values = tuple(_none_if_empty(get(record)) for get in getters)
        members.setdefault(tuple(map(_identity, values)), (values, []))[1].append(position)
    return list(members.values())


def _none_if_empty(value: Any) -> Any:
    return None if type(value) is list and not value else value
