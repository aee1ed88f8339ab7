"""Regular expressions for `=~` and `--search`, in linear time.

Invariant: matching a user's pattern against a value takes time proportional to the value's
length, whatever the pattern: patterns are compiled by RE2 (Google's engine, the
`google-re2` package), which has no backtracking, so `^(a+)+$` cannot hang `runs ls`.  RE2
takes Python's syntax except backreferences (`\\1`) and lookaround (`(?=`, `(?<!`); those
are refused with an error naming the pattern.

A pattern with no repetition, class or group (literal characters, escaped punctuation, `.`,
a leading `^`, a trailing `$`: `resnet`, `0.03`, `^bert`, `\\.py$`), of at most SIMPLE_MOST
characters, is matched by Python's own engine instead: without repetition it cannot
backtrack (at most the pattern's length of work at each place in the value), and it
matches what RE2 matches (tests/test_linear_regex.py checks the two against each other),
through one C call, where RE2's Python binding takes ~2.5 us a value (a filter on `command`
over 100,000 runs: ~0.25 s).  Ignoring case, only an ASCII pattern is taken, and a value
with any character past ASCII still goes to RE2, whose case folding is wider.  A value with
a lone surrogate (an undecodable byte a command kept) reaches RE2 with each one as U+FFFD,
which only `.` matches, as in Python (a pattern holding U+FFFD is RE2's).
"""
from __future__ import annotations

import re
import string
from typing import Any, Callable, Optional

from wandb_cli.textfmt import has_surrogates, replace_surrogates

Search = Callable[[str], Optional[Any]]


class RegexError(ValueError):
    """A pattern RE2 cannot compile; the message says why."""


def compile_search(pattern: str, *, ignore_case: bool = False) -> Search:
    """The `search` function of `pattern` (None when it does not match)."""
    simple = _simple(pattern, ignore_case)
    if simple is not None:
        return simple
    return _compile_re2(pattern, ignore_case)


def _compile_re2(pattern: str, ignore_case: bool) -> Search:
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
    search = compiled.search

    def guarded(value: str) -> Any:
        try:
            return search(value)
        except UnicodeEncodeError:  # (RE2 takes UTF-8: a lone surrogate, an undecodable byte
            # of a command kept by jsonio, is one character it cannot match but by `.`)
            return search(replace_surrogates(value))

    return guarded


SIMPLE_MOST = 1000  # characters: RE2 refuses a pattern past its memory (~100,000 `.`), as before
_PUNCTUATION = frozenset(string.punctuation)
_SPECIAL = frozenset("*+?{}[]()|^$")


def _simple(pattern: str, ignore_case: bool) -> Search | None:
    """Python's search for `pattern` where it is simple (see the module's docstring), else
    None.  Ignoring case, a value that is not ASCII still goes to RE2 (whose case folding
    goes past ASCII: `k` matches the Kelvin sign)."""
    if ((ignore_case and not pattern.isascii()) or len(pattern) > SIMPLE_MOST
            or "\ufffd" in pattern or has_surrogates(pattern)):
        # (RE2's: its case folding, its refusal of a huge pattern or a surrogate, and U+FFFD,
        # what it matches a surrogate as)
        return None
    parts, i, last = [], 0, len(pattern) - 1
    while i <= last:
        ch = pattern[i]
        if ch == "\\":
            escaped = pattern[i + 1:i + 2]
            if escaped not in _PUNCTUATION:  # (`\d`, `\1`, `\x41`, a trailing `\`: RE2's)
                return None
            parts.append(re.escape(escaped))
            i += 2
            continue
        if ch == "^" and i == 0:
            parts.append("\\A")
        elif ch == "$" and i == last:
            parts.append("\\Z")  # (RE2's `$` is the end of the text, not before a last newline)
        elif ch in _SPECIAL or ch < " " or ch == "\x7f":
            return None
        else:
            parts.append("." if ch == "." else re.escape(ch))
        i += 1
    if not ignore_case:
        return re.compile("".join(parts)).search
    fast, slow = re.compile("".join(parts), re.IGNORECASE | re.ASCII).search, _compile_re2(pattern, True)
    return lambda value: fast(value) if value.isascii() else slow(value)


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
