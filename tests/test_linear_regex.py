"""Patterns for `=~` and `--search`: the simple ones Python's engine matches (quicker through
its C call) must match exactly what RE2 matches, case kept or ignored."""
from __future__ import annotations

import string

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from wandb_cli.query import linear_regex
from wandb_cli.query.linear_regex import RegexError, compile_search

# letters whose case folds differ between engines past ASCII (the Kelvin sign folds to k,
# the long s to s, sharp s has no one-letter upper case), digits, spaces, punctuation
LETTERS = ("abkKsSzZ019 _-=/,:é\u00c9\u212a\u017f\u00df\u0130\u03a3\u03c3\u03c2"
           "\x85\u2028\U0001f600")  # (and line ends past \n, an astral character)
TOKEN = st.one_of(st.sampled_from(list(LETTERS)), st.just("."),
                  st.sampled_from(["\\" + ch for ch in string.punctuation]))
PATTERN = st.builds(lambda head, body, tail: head + "".join(body) + tail,
                    st.sampled_from(["", "^"]), st.lists(TOKEN, max_size=5), st.sampled_from(["", "$"]))
# values also hold line ends, NUL, U+FFFD and a lone surrogate (an undecodable byte kept)
VALUE = st.text(alphabet=LETTERS + ".\n\r\x00\ufffd\udcff$^\\*()[]" + string.punctuation, max_size=12)


@given(PATTERN, st.lists(VALUE, min_size=1, max_size=8), st.booleans())
@settings(max_examples=400, deadline=None)
@example("k", ["\u212a", "K"], True)  # the Kelvin sign: RE2 folds it, ASCII-only Python does not
@example("s", ["\u017f"], True)
@example("a$", ["a\n"], False)  # Python's own `$` would match before a last newline
@example("^a", ["b\na"], False)
@example("a.b", ["a\nb", "axb"], False)
@example("caf.", ["caf\udcff", "caf"], False)  # (the surrogate reaches RE2 as U+FFFD)
@example("caf\\?", ["caf\udcff"], False)  # (as no character a simple pattern can name)
def test_a_simple_pattern_matches_what_re2_matches(pattern, values, ignore_case):
    quick = linear_regex._simple(pattern, ignore_case)
    if ignore_case and not pattern.isascii():  # (RE2's, by design: its case folding is wider)
        assert quick is None
        return
    assert quick is not None, f"{pattern!r} is simple, yet not matched by Python's engine"
    re2_search = linear_regex._compile_re2(pattern, ignore_case)
    for value in values:
        assert (quick(value) is not None) == (re2_search(value) is not None), (pattern, value, ignore_case)


@pytest.mark.parametrize("pattern", ["a+", "^(a+)+$", "[ab]", "a|b", "a{2}", "\\d", "\\1", "a$b",
                                     "^^a", "(?i)a", "\\Z", "a\tb", "x?", "\ufffd", "a\udcff",
                                     "." * 1001])
def test_patterns_with_more_than_literals_go_to_re2(pattern):
    assert linear_regex._simple(pattern, False) is None


def test_ignoring_case_a_pattern_past_ascii_goes_to_re2():
    assert linear_regex._simple("é", True) is None
    assert linear_regex._simple("é", False) is not None
    found = compile_search("É", ignore_case=True)
    assert found("café") is not None and found("CAFÉ") is not None and found("cafe") is None


def test_a_simple_pattern_is_compiled_once_by_python():
    assert compile_search("0.03").__self__.pattern == "0.03"  # ('.' still any character)
    assert compile_search("0.03")("lr 0x03") is not None
    assert compile_search("^bert\\.py$").__self__.pattern == "\\Abert\\.py\\Z"


def test_a_pattern_of_a_surrogate_is_still_refused_by_re2():
    with pytest.raises(RegexError, match="surrogates not allowed"):
        compile_search("\udcff")


def test_a_trailing_backslash_is_still_refused_by_re2():
    with pytest.raises(RegexError, match="trailing"):
        compile_search("x\\")
