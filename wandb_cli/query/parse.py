"""Parse the `--filter` language and key names into small immutable trees.

Invariant: `parse_filter` on any text either returns a tree or raises `FilterError` whose
`pos` lies in [0, len(expr)]; nothing else escapes.  Parsing looks at no run, clock or time
zone: date literals stay text until `query.compile_filter` binds the tree to runs.

Grammar (keywords case-insensitive; precedence not > and > or):
    or      := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | '(' or ')' | compare
    compare := key (cmpop value | ['not'] 'in' '(' value (',' value)* ')' | 'is' ['not'] 'null')
    key     := segment ('.' segment)*      segment := bare | `back quoted`
    cmpop   := = | == | != | < | <= | > | >= | =~
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, NoReturn, Union

from wandb_cli.errors import FilterError, UsageError
from wandb_cli.store.model import ATTRIBUTES, CLUSTER_SCOPES

# `slurm.` and `dist.` name the cluster identity attributes (store/cluster.py)
SCOPES = ("config", "summary", *CLUSTER_SCOPES)
KEYWORDS = frozenset({"and", "or", "not", "in", "is"})
COMPARE_OPS = {"=": "=", "==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "=~": "=~"}
ORDERING_OPS = frozenset({"<", "<=", ">", ">="})
MAX_DEPTH = 100  # nesting of '(' and 'not'; deeper input is refused, not a RecursionError

_OP_CHARS = frozenset("=!<>~")
_NOT_BARE = frozenset("()=!<>~,'\"`")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_INTEGER = re.compile(r"[+-]?\d+\Z")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[dhms])+\Z")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


@dataclass(frozen=True)
class KeyRef:
    """A key as written: `scope` is "attr", "config", "summary", or None for a bare key
    that is resolved against the runs (summary metric, else config key)."""

    scope: str | None
    path: tuple[str, ...]
    text: str
    pos: int = 0


@dataclass(frozen=True)
class Literal:
    """A value: kind is "number", "string", "bool", "null" or "regex" (value a compiled
    pattern).  `text` is the unquoted source, used where a tag or regex needs text."""

    kind: str
    value: Any
    text: str
    pos: int


@dataclass(frozen=True)
class Compare:
    """`op` is one of = != < <= > >= =~ in, "not in", "is null", "is not null"."""

    key: KeyRef
    op: str
    operand: Union[Literal, tuple[Literal, ...], None]
    op_pos: int


@dataclass(frozen=True)
class Logic:
    op: str  # "and" | "or"
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    part: Node


Node = Union[Compare, Logic, Not]


def _is_bare(char: str) -> bool:
    return not char.isspace() and char not in _NOT_BARE


def parse_duration(text: str) -> int | float | None:
    """Seconds in a duration such as 90s, 10m, 1h30m, 2d, 1.5h; None if `text` is not one."""
    if not _DURATION.match(text):
        return None
    total = sum((float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text)), 0.0)
    return int(total) if total.is_integer() else total


class _Parser:
    def __init__(self, expr: str):
        self.expr = expr
        self.i = 0
        self.depth = 0

    def fail(self, message: str, pos: int) -> NoReturn:
        raise FilterError(message, self.expr, max(0, min(pos, len(self.expr))))

    def skip_ws(self) -> int:
        s, i = self.expr, self.i
        while i < len(s) and s[i].isspace():
            i += 1
        self.i = i
        return i

    def at_end(self) -> bool:
        return self.skip_ws() >= len(self.expr)

    def peek_word(self) -> tuple[str, int]:
        """The bare word (dots included) at the cursor, without consuming it."""
        start = end = self.skip_ws()
        while end < len(self.expr) and _is_bare(self.expr[end]):
            end += 1
        return self.expr[start:end], start

    def take_word(self) -> str:
        word, start = self.peek_word()
        self.i = start + len(word)
        return word

    def describe_here(self) -> str:
        word, start = self.peek_word()
        return repr(word) if word else repr(self.expr[start])

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"filter nested more than {MAX_DEPTH} deep", pos)

    # -- boolean structure -------------------------------------------------------------
    def parse(self) -> Node:
        if not self.expr.strip():
            self.fail("empty filter", 0)
        node = self.parse_or(after=None)
        if not self.at_end():
            if self.expr[self.i] == ")":
                self.fail("unexpected ')'", self.i)
            self.fail_junk("'and' or 'or'")
        return node

    def fail_junk(self, expected: str) -> NoReturn:
        word = self.peek_word()[0]
        hint = {"&&": ": use 'and'", "||": ": use 'or'"}.get(word, "")
        self.fail(f"expected {expected}, got {self.describe_here()}{hint}", self.i)

    def parse_logic(self, op: str, after: str | None) -> Node:
        parse_part = self.parse_and if op == "or" else self.parse_not
        parts = [parse_part(after)]
        while self.peek_word()[0].lower() == op:
            self.take_word()
            parts.append(parse_part(op))
        return parts[0] if len(parts) == 1 else Logic(op, tuple(parts))

    def parse_or(self, after: str | None) -> Node:
        return self.parse_logic("or", after)

    def parse_and(self, after: str | None) -> Node:
        return self.parse_logic("and", after)

    def parse_not(self, after: str | None) -> Node:
        word, start = self.peek_word()
        if word.lower() != "not":
            return self.parse_primary(after)
        self.take_word()
        self.enter(start)
        node = Not(self.parse_not("not"))
        self.depth -= 1
        return node

    def parse_primary(self, after: str | None) -> Node:
        if self.at_end():
            where = f" after '{after}'" if after else ""
            self.fail(f"expected a comparison{where}", len(self.expr))
        if self.expr[self.i] != "(":
            return self.parse_compare()
        opened = self.i
        self.i += 1
        self.enter(opened)
        node = self.parse_or("(")
        self.depth -= 1
        if self.at_end():
            self.fail("unclosed parenthesis", opened)
        if self.expr[self.i] != ")":
            self.fail_junk("'and', 'or' or ')'")
        self.i += 1
        return node

    # -- keys --------------------------------------------------------------------------
    def scan_quoted(self, quote: str) -> str:
        """The text between quotes at the cursor; a backslash escapes the quote or itself."""
        s, start = self.expr, self.i
        i, out = start + 1, []
        while i < len(s):
            char = s[i]
            if char == "\\" and i + 1 < len(s) and s[i + 1] in (quote, "\\"):
                out.append(s[i + 1])
                i += 2
            elif char == quote:
                self.i = i + 1
                return "".join(out)
            else:
                out.append(char)
                i += 1
        self.fail("unclosed backquote" if quote == "`" else "unclosed quote", start)

    def scan_segment(self) -> tuple[str, bool]:
        s = self.expr
        if self.i < len(s) and s[self.i] == "`":
            return self.scan_quoted("`"), True
        end = self.i
        while end < len(s) and _is_bare(s[end]) and s[end] != ".":
            end += 1
        if end == self.i:
            self.fail("expected a key name after '.'", self.i)
        segment, self.i = s[self.i:end], end
        return segment, False

    def parse_key(self) -> KeyRef:
        start = self.skip_ws()
        char = self.expr[start]
        if char != "`" and not _is_bare(char):
            self.fail(f"expected a key, got {char!r}", start)
        segments, quoted = [], []
        while True:
            segment, was_quoted = self.scan_segment()
            segments.append(segment)
            quoted.append(was_quoted)
            if self.i < len(self.expr) and self.expr[self.i] == ".":
                self.i += 1
                continue
            break
        if len(segments) == 1 and not quoted[0] and segments[0].lower() in KEYWORDS:
            self.fail(f"expected a key, got keyword '{segments[0]}'", start)
        return make_key(segments, quoted, self.expr[start:self.i], start)

    # -- comparisons -------------------------------------------------------------------
    def parse_compare(self) -> Compare:
        key = self.parse_key()
        if self.at_end():
            self.fail(f"expected an operator after '{key.text}'", len(self.expr))
        op_pos = self.i
        if self.expr[op_pos] in _OP_CHARS:
            end = op_pos
            while end < len(self.expr) and self.expr[end] in _OP_CHARS:
                end += 1
            written = self.expr[op_pos:end]
            if written not in COMPARE_OPS:
                self.fail(f"unknown operator '{written}'", op_pos)
            self.i = end
            return self.make_compare(key, COMPARE_OPS[written], self.parse_value(written), op_pos)
        return self.parse_word_operator(key, op_pos)

    def parse_word_operator(self, key: KeyRef, op_pos: int) -> Compare:
        word = self.peek_word()[0].lower()
        if word == "in":
            self.take_word()
            return Compare(key, "in", self.parse_list(), op_pos)
        if word == "not":
            self.take_word()
            if self.peek_word()[0].lower() != "in":
                self.fail("expected IN after NOT", self.skip_ws())
            self.take_word()
            return Compare(key, "not in", self.parse_list(), op_pos)
        if word == "is":
            self.take_word()
            negated = self.peek_word()[0].lower() == "not"
            if negated:
                self.take_word()
            if self.peek_word()[0].lower() != "null":
                self.fail("expected NULL or NOT NULL after IS", self.skip_ws())
            self.take_word()
            return Compare(key, "is not null" if negated else "is null", None, op_pos)
        self.fail(f"expected an operator after '{key.text}', got {self.describe_here()}", op_pos)

    def parse_list(self) -> tuple[Literal, ...]:
        opened = self.skip_ws()
        if opened >= len(self.expr) or self.expr[opened] != "(":
            self.fail("expected '(' after IN", opened)
        self.i += 1
        items = [self.parse_value("(")]
        while True:
            if self.at_end():
                self.fail("unclosed parenthesis", opened)
            char = self.expr[self.i]
            self.i += 1
            if char == ")":
                return tuple(items)
            if char != ",":
                self.i -= 1
                self.fail(f"expected ',' or ')' in the list, got {self.describe_here()}", self.i)
            items.append(self.parse_value(","))

    def parse_value(self, after: str) -> Literal:
        pos = self.skip_ws()
        s = self.expr
        if pos >= len(s) or s[pos] in "(),`" or s[pos] in _OP_CHARS:
            self.fail(f"expected a value after '{after}'", pos)
        if s[pos] in "'\"":
            text = self.scan_quoted(s[pos])
            return Literal("string", text, text, pos)
        word = self.take_word()
        if word.lower() in KEYWORDS:
            self.fail(f"expected a value after '{after}', got keyword '{word}'", pos)
        return classify_word(word, pos)

    def make_compare(self, key: KeyRef, op: str, value: Literal, op_pos: int) -> Compare:
        if value.kind == "null":
            if op in ("=", "!="):
                return Compare(key, "is null" if op == "=" else "is not null", None, op_pos)
            self.fail("null can only be compared with =, != or IS", value.pos)
        if op == "=~":
            value = Literal("regex", self.compile_regex(value), value.text, value.pos)
        return Compare(key, op, value, op_pos)

    def compile_regex(self, value: Literal) -> Any:
        """A compiled pattern (linear time: RE2, or Python's for a simple one; see
        linear_regex.py) with a `search`."""
        from wandb_cli.query.linear_regex import RegexError, compile_search

        try:
            return _Pattern(compile_search(value.text))
        except RegexError as exc:
            self.fail(f"bad regex {value.text!r}: {exc}", value.pos)


@dataclass(frozen=True)
class _Pattern:
    search: Callable[[str], Any]


def classify_word(word: str, pos: int) -> Literal:
    """A bare word as a literal: null, true/false, a number, a duration, else a string."""
    lowered = word.lower()
    if lowered == "null":
        return Literal("null", None, word, pos)
    if lowered in ("true", "false"):
        return Literal("bool", lowered == "true", word, pos)
    if _NUMBER.match(word):
        return Literal("number", int(word) if _INTEGER.match(word) else float(word), word, pos)
    seconds = parse_duration(word)
    if seconds is not None:
        return Literal("number", seconds, word, pos)
    return Literal("string", word, word, pos)


def make_key(segments: list[str], quoted: list[bool], text: str, pos: int = 0) -> KeyRef:
    """A quoted first segment is a name, never a scope prefix: `config`.x is a bare key."""
    if len(segments) > 1 and not quoted[0] and segments[0] in SCOPES:
        return KeyRef(segments[0], tuple(segments[1:]), text, pos)
    if len(segments) == 1 and segments[0] in ATTRIBUTES:
        return KeyRef("attr", (segments[0],), text, pos)
    return KeyRef(None, tuple(segments), text, pos)


def parse_filter(expr: str) -> Node:
    """The tree of a filter expression; raises FilterError (with a caret position)."""
    return _Parser(expr).parse()


@lru_cache(maxsize=1024)
def parse_key(text: str) -> KeyRef:
    """A key as used by --sort, --group-by and columns; raises UsageError if malformed."""
    parser = _Parser(text)
    try:
        if parser.at_end():
            parser.fail("empty key", 0)
        key = parser.parse_key()
        if not parser.at_end():
            parser.fail(f"unexpected {parser.describe_here()} after the key", parser.i)
    except FilterError as exc:
        raise UsageError(f"bad key {text!r}: {exc.message} (at position {exc.pos})") from None
    return key


def format_key(scope: str | None, path: tuple[str, ...]) -> str:
    """The text that `parse_key` reads back as this key (back-quoting odd segments)."""
    def segment(name: str) -> str:
        plain = name and all(_is_bare(c) and c != "." for c in name) and name[0] not in "+-"
        if plain and name.lower() not in KEYWORDS:
            return name
        return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"

    body = ".".join(segment(name) for name in path)
    if scope in SCOPES:
        return f"{scope}.{body}"
    if scope is None and len(path) > 1 and path[0] in SCOPES:
        return "`" + path[0] + "`" + body[len(path[0]):]
    return body
