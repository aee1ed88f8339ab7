"""Filter, search and sort runs: pure functions over `RunRecord`s (no terminal, no I/O).

Invariant: a filter is parsed once and compiled once per collection of runs into a tree of
small closures; matching a run compiles nothing (no regex, no date parsing, no key
resolution).  A comparison matches only a present value of the literal's own type: a
missing value, a string against a number, a bool against a number, NaN in an ordering all
fail it, for `!=` and `NOT IN` too.  `not` is plain logical negation, so `not x = 1` does
match runs without x.

The pieces, for `wbrun runs ls`:
    compile_filter(expr, records, tz=None) -> predicate     (FilterError, UsageError)
    compile_search(pattern) -> predicate                    (UsageError)
    sort_runs(records, keys=()) -> list                     (UsageError)
    select_runs(records, filter_expr=, search=, sort=, tz=) -> list
    group_runs(...), get_value, value_getter, collect_keys   (re-exported)
"""
from __future__ import annotations

import datetime as _dt
import operator
import re
from typing import Any, Callable, Sequence

from wandb_cli.errors import FilterError, UsageError
from wandb_cli.query.group import ColumnStats, Group, group_runs
from wandb_cli.query.parse import (
    ORDERING_OPS,
    Compare,
    KeyRef,
    Literal,
    Logic,
    Node,
    Not,
    format_key,
    parse_filter,
    parse_key,
)
from wandb_cli.query.values import (
    NEWEST_FIRST,
    KeyCounts,
    KeyResolver,
    SortKey,
    collect_keys,
    get_value,
    parse_sort_key,
    sort_runs,
    value_getter,
)
from wandb_cli.store.model import STATES, RunRecord

Predicate = Callable[[RunRecord], bool]

TIME_ATTRIBUTES = frozenset({"created", "ended"})
_TYPES = {"number": frozenset({int, float}), "string": frozenset({str}), "bool": frozenset({bool})}
_TESTS = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
          ">": operator.gt, ">=": operator.ge}
_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?([Zz]|([+-])(\d{2}):?(\d{2}))?)?\Z"
)
_DATE_HELP = "YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM]"


def parse_timestamp(text: str, tz: _dt.tzinfo | None = None) -> float | None:
    """POSIX seconds of an ISO date or time; None if `text` is not one; ValueError if it is
    one with impossible fields.  Without Z or an offset it is a time in `tz` (None: local)."""
    match = _DATE.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone, sign, off_h, off_m = match.groups()
    micro = int((fraction or "0").ljust(6, "0"))
    moment = _dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                          int(second or 0), micro)
    if zone:
        offset = _dt.timedelta(hours=int(off_h or 0), minutes=int(off_m or 0))
        moment = moment.replace(tzinfo=_dt.timezone(-offset if sign == "-" else offset))
    elif tz is not None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp()  # a naive datetime is taken as local time here


class _Compiler:
    def __init__(self, expr: str, resolver: KeyResolver, tz: _dt.tzinfo | None):
        self.expr, self.tz, self.resolver = expr, tz, resolver
        self.getters: dict[tuple, Callable[[RunRecord], Any]] = {}

    def fail(self, message: str, pos: int) -> FilterError:
        return FilterError(message, self.expr, pos)

    def getter(self, key: KeyRef) -> Callable[[RunRecord], Any]:
        cache_key = (key.scope, key.path)
        if cache_key not in self.getters:
            self.getters[cache_key] = self.resolver.getter(key)
        return self.getters[cache_key]

    def compile(self, node: Node) -> Predicate:
        if isinstance(node, Logic):
            return _combine(node.op, [self.compile(part) for part in node.parts])
        if isinstance(node, Not):
            inner = self.compile(node.part)
            return lambda record: not inner(record)
        return self.compare(node)

    def compare(self, node: Compare) -> Predicate:
        key = node.key
        if key.scope == "attr" and key.path[0] == "tags":
            return self.tags(node)
        get = self.getter(key)
        if node.op in ("is null", "is not null"):
            wanted_none = node.op == "is null"
            return lambda record: (get(record) is None) is wanted_none
        if node.op == "=~":
            assert isinstance(node.operand, Literal)  # the parser made it a regex
            return _regex_match(get, node.operand.value.search)
        if key.scope == "attr" and key.path[0] in TIME_ATTRIBUTES:
            node = self.with_times(node)
        if node.op in ("in", "not in"):
            assert isinstance(node.operand, tuple)  # the parser made it a list
            return _membership(get, node.operand, negated=node.op == "not in")
        assert isinstance(node.operand, Literal)  # only IS [NOT] NULL has none
        return _comparison(get, _TESTS[node.op], node.operand)

    def with_times(self, node: Compare) -> Compare:
        operand = node.operand
        if isinstance(operand, tuple):
            return Compare(node.key, node.op, tuple(self.as_time(lit, node.key) for lit in operand),
                           node.op_pos)
        assert operand is not None  # IS [NOT] NULL never gets here
        return Compare(node.key, node.op, self.as_time(operand, node.key), node.op_pos)

    def as_time(self, literal: Literal, key: KeyRef) -> Literal:
        if literal.kind != "string":
            return literal
        try:
            seconds = parse_timestamp(literal.value, self.tz)
        except (ValueError, OverflowError) as exc:
            raise self.fail(f"bad date {literal.text!r}: {exc}", literal.pos) from None
        if seconds is None:
            raise self.fail(f"expected a date ({_DATE_HELP}) or a number for '{key.text}', "
                            f"got {literal.text!r}", literal.pos)
        return Literal("number", seconds, literal.text, literal.pos)

    def tags(self, node: Compare) -> Predicate:
        """Tags are a set: = has the tag, != lacks it, IN has any, NOT IN has none."""
        op = node.op
        if op in ORDERING_OPS:
            raise self.fail("tags can only be compared with =, !=, IN, NOT IN, =~ or IS NULL",
                            node.op_pos)
        if op in ("is null", "is not null"):
            wanted_empty = op == "is null"
            return lambda record: (not record.tags) is wanted_empty
        assert node.operand is not None  # only IS [NOT] NULL has none
        if op == "=~":
            assert isinstance(node.operand, Literal)  # the parser made it a regex
            search = node.operand.value.search
            return lambda record: any(type(t) is str and search(t) for t in record.tags)
        items = node.operand if isinstance(node.operand, tuple) else (node.operand,)
        names = frozenset(lit.value if lit.kind == "string" else lit.text
                          for lit in items if lit.kind != "null")
        with_empty = any(lit.kind == "null" for lit in items)

        def has_any(record: RunRecord) -> bool:
            return not names.isdisjoint(record.tags) or (with_empty and not record.tags)

        if op in ("=", "in"):
            return has_any
        return lambda record: not has_any(record)


def _combine(op: str, parts: list[Predicate]) -> Predicate:
    if len(parts) == 2:
        first, second = parts
        if op == "and":
            return lambda record: first(record) and second(record)
        return lambda record: first(record) or second(record)
    return (lambda record: all(p(record) for p in parts)) if op == "and" else (
        lambda record: any(p(record) for p in parts))


def _regex_match(get: Callable, search: Callable) -> Predicate:
    def match(record: RunRecord) -> bool:
        value = get(record)
        return type(value) is str and search(value) is not None

    return match


def _comparison(get: Callable, test: Callable, literal: Literal) -> Predicate:
    types, wanted = _TYPES[literal.kind], literal.value

    def match(record: RunRecord) -> bool:
        value = get(record)
        return type(value) in types and test(value, wanted)

    return match


def _membership(get: Callable, items: tuple[Literal, ...], *, negated: bool) -> Predicate:
    """IN matches a value equal to a literal of its type (or a missing one, given null);
    NOT IN matches a present value of a listed type that equals none of them."""
    by_type: dict[type, set] = {}
    for lit in items:
        for kind in _TYPES.get(lit.kind, ()):
            by_type.setdefault(kind, set()).add(lit.value)
    with_null = any(lit.kind == "null" for lit in items)
    if negated and not by_type:
        return lambda record: get(record) is not None

    def match(record: RunRecord) -> bool:
        value = get(record)
        if value is None:
            return with_null and not negated
        same_type = by_type.get(type(value))
        return same_type is not None and (value in same_type) is not negated

    return match


def compile_filter(expr: str, records: Sequence[RunRecord] = (), *,
                   tz: _dt.tzinfo | None = None) -> Predicate:
    """A predicate for `expr`, with bare keys resolved over `records` (the runs queried).

    Raises FilterError for a malformed expression or a bad date, UsageError for a bare key
    that is both a summary metric and a config key.  `tz` is the zone of dates written
    without Z or an offset (None: the machine's local time)."""
    return _Compiler(expr, KeyResolver(records), tz).compile(parse_filter(expr))


def compile_search(pattern: str) -> Predicate:
    """A predicate matching runs whose name or ID contains `pattern` (a regex, any case)."""
    from wandb_cli.query.linear_regex import RegexError
    from wandb_cli.query.linear_regex import compile_search as compile_linear

    try:
        search = compile_linear(pattern, ignore_case=True)
    except RegexError as exc:
        raise UsageError(f"bad --search regex {pattern!r}: {exc}") from None
    return lambda record: search(record.name) is not None or search(record.id) is not None


def select_runs(records: Sequence[RunRecord], *, filter_expr: str | None = None,
                search: str | None = None, sort: Sequence[str] = (),
                tz: _dt.tzinfo | None = None) -> list[RunRecord]:
    """The runs `wbrun runs ls` shows: filtered, then searched, then sorted.  Bare keys in
    the filter and the sort keys are resolved over all of `records`, so a key means the same
    thing whatever the filter leaves."""
    selected = list(records)
    resolver = KeyResolver(selected)
    if filter_expr is not None:
        matches = _Compiler(filter_expr, resolver, tz).compile(parse_filter(filter_expr))
        selected = [record for record in selected if matches(record)]
    if search is not None:
        found = compile_search(search)
        selected = [record for record in selected if found(record)]
    return sort_runs(selected, sort, resolver=resolver)


__all__ = [
    "FilterError", "UsageError", "Predicate", "SortKey", "NEWEST_FIRST", "KeyCounts",
    "KeyResolver", "Group", "ColumnStats", "compile_filter", "compile_search", "parse_sort_key", "sort_runs",
    "select_runs", "group_runs", "get_value", "value_getter", "collect_keys", "parse_timestamp",
    "parse_key", "format_key", "narrow_runs",
]


def narrow_runs(records: Sequence[RunRecord], *, project: str | None = None,
                state: str | None = None, filter_expr: str | None = None, search: str | None = None,
                sort: Sequence[str] = (), limit: int | None = None
                ) -> tuple[list[RunRecord], int]:
    """The runs `runs ls` lists, and how many matched before `limit` cut them.

    --project and --state narrow the runs first (AND with --filter), so bare keys in the
    filter and the sort keys are resolved over the runs they leave."""
    if state is not None and state not in STATES:
        raise UsageError(f"bad --state {state!r}: choose {', '.join(STATES)}")
    if limit is not None and limit < 0:
        raise UsageError(f"bad --limit {limit}: give 0 or more")
    narrowed = [record for record in records
                if (project is None or record.project == project)
                and (state is None or record.state == state)]
    chosen = select_runs(narrowed, filter_expr=filter_expr, search=search, sort=sort)
    return (chosen if limit is None else chosen[:limit]), len(chosen)
