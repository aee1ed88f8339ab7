"""A run's config or summary read for listings, with a size limit.

Invariant: a listing never parses or holds more than about DOC_LIMIT bytes of one run's
config or summary.  A document over the limit (a config holding an embedding table, a
summary holding a huge list) is read as a stream and kept as its top-level keys: each value
whose JSON is at most VALUE_LIMIT bytes as it is, each larger one replaced by a marker string
naming its size, and keys past DOC_LIMIT bytes of kept text left out.  The file itself is
never changed; `runs show` says the document is shown truncated and where the whole is.  So
the index (index.py) holds the truncated form, and `runs ls` costs the same with or without
a 1 GB config in the store once the index has it.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from wandb_cli.store import jsonio

DOC_LIMIT = 1 << 20  # bytes of JSON a listing parses of one config.json or wandb-summary.json
VALUE_LIMIT = 4096  # bytes of JSON one top-level value may have in a truncated document
KEY_PREFIX = 1024  # bytes of an oversized member kept to read its key
CHUNK = 1 << 20

_OUTSIDE_TOP = re.compile(rb'["{}\[\],]')  # at depth 1 a comma ends a member
_OUTSIDE_DEEP = re.compile(rb'["{}\[\]]')
_INSIDE = re.compile(rb'["\\]')
_KEY = re.compile(rb'\s*("(?:[^"\\]|\\.)*")\s*:', re.S)
_QUOTE, _BACKSLASH, _COMMA = ord('"'), ord("\\"), ord(",")
_OPEN, _CLOSE = frozenset(b"{["), frozenset(b"}]")


def truncated_marker(size: int) -> str:
    from wandb_cli.textfmt import fmt_size

    return f"<{fmt_size(size)} of JSON, truncated>"


def read_capped(path: Path, default: Any = None) -> tuple[Any, int | None]:
    """(document, None) for a file within DOC_LIMIT, parsed whole; (its top-level keys
    truncated as the module says, the file's size) for a larger one; (default, None) when
    it does not exist.  Corruption raises ValueError, as jsonio.read_json does."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return default, None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size <= DOC_LIMIT:
            return jsonio.loads(fh.read()), None
        return _TopLevel().read(fh), size


class _TopLevel:
    """A streaming pass over one JSON object that keeps its small top-level members."""

    def __init__(self) -> None:
        self.doc: dict[str, Any] = {}
        self.kept = 0
        self.member = bytearray()
        self.member_len = 0

    def read(self, fh) -> Any:
        depth, in_string, escaped, started = 0, False, False, False
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                raise ValueError("the document ends inside its top-level object")
            pos, seg = 0, 0
            if not started:
                head = chunk.lstrip()
                if not head:
                    continue
                if head[0] != ord("{"):
                    return None  # not an object: read_raw treats it as one it cannot use
                started = True
            while True:
                if in_string:
                    if escaped:
                        if pos >= len(chunk):
                            break
                        pos, escaped = pos + 1, False
                    match = _INSIDE.search(chunk, pos)
                    if match is None:
                        break
                    pos = match.end()
                    if chunk[match.start()] == _BACKSLASH:
                        escaped = True
                    else:
                        in_string = False
                    continue
                match = (_OUTSIDE_TOP if depth == 1 else _OUTSIDE_DEEP).search(chunk, pos)
                if match is None:
                    break
                at = match.start()
                char, pos = chunk[at], at + 1
                if char == _QUOTE:
                    in_string = True
                elif char in _OPEN:
                    depth += 1
                    if depth == 1:
                        seg = pos
                elif char in _CLOSE:
                    depth -= 1
                    if depth == 0:
                        self._end_member(chunk[seg:at])
                        return self.doc
                elif char == _COMMA:
                    self._end_member(chunk[seg:at])
                    seg = pos
            if depth >= 1:
                self._add(chunk[seg:])

    def _add(self, piece: bytes) -> None:
        self.member_len += len(piece)
        if len(self.member) < VALUE_LIMIT + KEY_PREFIX:
            self.member += piece[:VALUE_LIMIT + KEY_PREFIX + 1 - len(self.member)]

    def _end_member(self, piece: bytes) -> None:
        self._add(piece)
        member, size = bytes(self.member), self.member_len
        self.member, self.member_len = bytearray(), 0
        if not member.strip() or self.kept > DOC_LIMIT:
            return
        key_match = _KEY.match(member)
        if key_match is None:
            if size > len(member):
                return  # a key longer than KEY_PREFIX: left out
            raise ValueError("a top-level member without a key")
        key = jsonio.loads(key_match.group(1))
        value_size = size - key_match.end()
        if value_size > VALUE_LIMIT:
            self.doc[key] = truncated_marker(value_size)
        else:
            self.doc.update(jsonio.loads(b"{" + member + b"}"))
        self.kept += min(size, VALUE_LIMIT + KEY_PREFIX)
