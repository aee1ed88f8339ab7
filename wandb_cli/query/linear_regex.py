"""Regular expressions for `=~` and `--search`, in linear time.

Invariant: matching a user's pattern against a value takes time proportional to the value's
length, whatever the pattern: patterns are compiled by RE2 (Google's engine, the
`google-re2` package), which has no backtracking, so `^(a+)+$` cannot hang `runs ls`.  RE2
takes Python's syntax except backreferences (`\\1`) and lookaround (`(?=`, `(?<!`); those
are refused with an error naming the pattern.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

Search = Callable[[str], Optional[Any]]


class RegexError(ValueError):
    """A pattern RE2 cannot compile; the message says why."""


def compile_search(pattern: str, *, ignore_case: bool = False) -> Search:
    """The `search` function of `pattern` (None when it does not match)."""
    import re2

    options = re2.Options()
    options.log_errors = False  # RE2 would print each refusal on stderr itself
    options.case_sensitive = not ignore_case
    try:
        compiled = re2.compile(_python_anchors(pattern), options)
    except re2.error as exc:
        raise RegexError(_reason(exc)) from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise RegexError(str(exc)) from None
    return compiled.search


def _python_anchors(pattern: str) -> str:
    """Python's end-of-text anchor `\\Z` written as RE2's `\\z` (the same meaning)."""
    if "\\Z" not in pattern:
        return pattern
    out, i = [], 0
    while i < len(pattern):
        pair = pattern[i:i + 2]
        out.append("\\z" if pair == "\\Z" else pair if pair[:1] == "\\" else pattern[i])
        i += 2 if pair[:1] == "\\" else 1
    return "".join(out)


def _reason(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else exc
    text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
    if text.startswith("invalid escape sequence: \\") and text[-1:].isdigit():
        return f"{text} (backreferences are not supported)"
    if text.startswith("invalid perl operator: (?"):
        return f"{text} (lookahead and lookbehind are not supported)"
    return text
