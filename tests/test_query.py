"""The filter language, search, sort and grouping of `wbrun runs ls`, on RunRecords built here."""
from __future__ import annotations

import datetime as dt
import json
import math
import statistics

import pytest
from helpers import make_record as make_run
from hypothesis import example, given, settings
from hypothesis import strategies as st

from wandb_cli.errors import FilterError, UsageError
from wandb_cli.query import filter as query
from wandb_cli.query.parse import Logic, Not, format_key, parse_duration, parse_filter, parse_key
from wandb_cli.store.model import ATTRIBUTES

UTC = dt.timezone.utc
NOV1 = dt.datetime(2026, 11, 1, tzinfo=UTC).timestamp()
HOUR = 3600.0


RUNS = [
    make_run("a", name="baseline-1", created=NOV1 + 10 * HOUR, ended=NOV1 + 10 * HOUR + 600,
             exit_code=0, host="alpha", group="sweep-1", notes="first try",
             tags=["baseline", "gpu"], command=["python", "train.py", "--lr", "0.1"],
             config={"lr": 0.1, "optimizer": {"lr": 0.01, "name": "adam"}, "batch.size": 32,
                     "date": "2026-11-01", "seed": 1},
             summary={"val_loss": 0.5, "acc": 0.9, "val/loss": 0.25, "a b": 3}),
    make_run("b", name="big-2", state="failed", created=NOV1 + 24 * HOUR,
             ended=NOV1 + 24 * HOUR + 2 * HOUR, exit_code=1, host="beta", tags=["gpu"],
             config={"lr": 0.01, "optimizer": {"name": "sgd"}, "seed": 2},
             summary={"val_loss": 1.5, "acc": "n/a"}),
    make_run("c", name="crash-3", state="crashed", created=NOV1 - 24 * HOUR,
             heartbeat=NOV1 - 24 * HOUR + 90, config={"lr": "auto", "seed": 1},
             summary={"val_loss": float("nan"), "acc": 0.7}),
    make_run("d", name="odd name", state="running", created=NOV1 + 48 * HOUR,
             heartbeat=NOV1 + 49 * HOUR, tags=["x y"], config={"flag": True}, summary={}),
    make_run("e", name="ends-5", created=NOV1 + 30 * HOUR, ended=NOV1 + 30 * HOUR + 5400,
             exit_code=0, tags=["baseline"], config={"seed": 3, "flag": False},
             summary={"val_loss": 1, "acc": 0.8}),
]


def ids(expr: str, runs=RUNS, tz=UTC) -> list[str]:
    matches = query.compile_filter(expr, runs, tz=tz)
    return [run.id for run in runs if matches(run)]


def error_of(expr: str, runs=RUNS) -> FilterError:
    with pytest.raises(FilterError) as caught:
        query.compile_filter(expr, runs, tz=UTC)
    return caught.value


# -- comparisons ---------------------------------------------------------------------------
@pytest.mark.parametrize("expr, expected", [
    ("val_loss = 0.5", ["a"]),
    ("val_loss == 0.5", ["a"]),
    ("val_loss != 0.5", ["b", "c", "e"]),  # NaN is present and not 0.5; d has no val_loss
    ("val_loss < 1", ["a"]),
    ("val_loss <= 1", ["a", "e"]),
    ("val_loss > 1", ["b"]),
    ("val_loss >= 1", ["b", "e"]),
    ("val_loss = 1.0", ["e"]),  # int 1 equals float literal 1.0
    ("val_loss IN (0.5, 1)", ["a", "e"]),
    ("val_loss NOT IN (0.5, 1)", ["b", "c"]),
    ("state IN (failed, crashed)", ["b", "c"]),
    ("state NOT IN ('failed', 'crashed')", ["a", "d", "e"]),
    ("name =~ '^b'", ["a", "b"]),
    ("name =~ '[0-9]$'", ["a", "b", "c", "e"]),
    ("name =~ NAME", []),  # =~ is case-sensitive unless the pattern says (?i)
    ("name =~ '(?i)NAME'", ["d"]),
    ("notes =~ try", ["a"]),
    ("command =~ '--lr 0\\.1'", ["a"]),
    ("exit_code = 0", ["a", "e"]),
    ("exit_code IS NULL", ["c", "d"]),
    ("exit_code IS NOT NULL", ["a", "b", "e"]),
    ("exit_code = null", ["c", "d"]),
    ("exit_code != null", ["a", "b", "e"]),
    ("group = sweep-1", ["a"]),
    ("host = beta", ["b"]),
    ("project = proj and entity = me", ["a", "b", "c", "d", "e"]),
    ("id IN (a, e, zz)", ["a", "e"]),
    ("seed IN (1, null)", ["a", "c", "d"]),
])
def test_each_operator(expr, expected):
    assert ids(expr) == expected


@pytest.mark.parametrize("expr, expected", [
    ("val_loss < 1", ["a"]),          # NaN never orders
    ("val_loss >= 0", ["a", "b", "e"]),
    ("not val_loss >= 0", ["c", "d"]),
])
def test_nan_never_matches_an_ordering(expr, expected):
    assert ids(expr) == expected


# -- boolean structure ---------------------------------------------------------------------
@pytest.mark.parametrize("expr, expected", [
    ("state = failed or state = crashed and val_loss > 100", ["b"]),  # and binds tighter
    ("(state = failed or state = crashed) and val_loss > 100", []),
    ("not state = finished and exit_code IS NULL", ["c", "d"]),  # not binds tightest
    ("not (state = finished and exit_code = 0)", ["b", "c", "d"]),
    ("not not id = a", ["a"]),
    ("id = a or id = b or id = c", ["a", "b", "c"]),
    ("seed >= 1 and seed <= 2 and lr IS NOT NULL", ["a", "b", "c"]),
    ("((id = a))", ["a"]),
    ("id = a AND NOT id = b Or id = c", ["a", "c"]),
    ("id=a or(id=b)", ["a", "b"]),
])
def test_precedence_not_and_or(expr, expected):
    assert ids(expr) == expected


@pytest.mark.parametrize("loose, bracketed", [
    ("id = a or id = b and id = c", "id = a or (id = b and id = c)"),
    ("not id = a and id = b", "(not id = a) and id = b"),
    ("id = a and id = b or id = c and id = d", "(id = a and id = b) or (id = c and id = d)"),
    ("not id = a or id = b", "(not id = a) or id = b"),
])
def test_precedence_matches_explicit_parentheses(loose, bracketed):
    assert shape(parse_filter(loose)) == shape(parse_filter(bracketed))


def shape(node):
    """The tree without source positions."""
    if isinstance(node, Logic):
        return (node.op, *map(shape, node.parts))
    if isinstance(node, Not):
        return ("not", shape(node.part))
    return (node.key.path, node.op, node.operand.value)


# -- values and quoting --------------------------------------------------------------------
QUOTED = [make_run("q1", name="a b"), make_run("q2", name="it's"),
          make_run("q3", name='say "hi"'), make_run("q4", name="back\\slash"),
          make_run("q5", name="1.5"), make_run("q6", name="true")]


@pytest.mark.parametrize("expr, expected", [
    ("name = 'a b'", ["q1"]),
    ('name = "a b"', ["q1"]),
    ("name = 'it\\'s'", ["q2"]),
    ('name = "it\'s"', ["q2"]),
    ('name = "say \\"hi\\""', ["q3"]),
    ("name = 'back\\\\slash'", ["q4"]),
    ("name =~ 'back\\\\\\\\s'", ["q4"]),  # \\\\ in quotes is \\ in the regex: one backslash
    ("name =~ '^\\d'", ["q5"]),           # a backslash before anything else stays
    ("name = 1.5", []),                    # a bare number is a number, never the string
    ("name = '1.5'", ["q5"]),
    ("name = true", []),
    ("name = 'true'", ["q6"]),
    ("name IN ('a b', \"it's\")", ["q1", "q2"]),
])
def test_quoting(expr, expected):
    assert ids(expr, QUOTED) == expected


@pytest.mark.parametrize("word, kind, value", [
    ("42", "number", 42), ("-3", "number", -3), ("2.5", "number", 2.5), ("1e3", "number", 1000.0),
    (".5", "number", 0.5), ("NULL", "null", None), ("True", "bool", True), ("false", "bool", False),
    ("10m", "number", 600), ("resnet-50", "string", "resnet-50"), ("a/b:c", "string", "a/b:c"),
])
def test_bare_words_become_typed_literals(word, kind, value):
    literal = parse_filter(f"x IN ({word})").operand[0]
    assert (literal.kind, literal.value) == (kind, value)


@pytest.mark.parametrize("expr, expected", [
    ("`val/loss` <= 0.3", ["a"]),
    ("summary.`val/loss` <= 0.3", ["a"]),
    ("val/loss <= 0.3", ["a"]),          # / needs no quoting
    ("summary.`a b` = 3", ["a"]),
    ("`a b` = 3", ["a"]),
    ("config.optimizer.name = adam", ["a"]),
    ("optimizer.name = sgd", ["b"]),
    ("config.optimizer.lr = 0.01", ["a"]),
    ("config.batch.size = 32", ["a"]),  # a literal flat key containing a dot
    ("config.`batch.size` = 32", ["a"]),
    ("config.optimizer IS NULL", ["c", "d", "e"]),
    ("`config`.lr IS NOT NULL", []),     # a quoted first segment is a name, not a prefix
])
def test_keys_nested_and_backquoted(expr, expected):
    assert ids(expr) == expected


# -- dates and durations -------------------------------------------------------------------
@pytest.mark.parametrize("expr, expected", [
    ("created >= '2026-11-02'", ["b", "d", "e"]),
    ("created >= 2026-11-02", ["b", "d", "e"]),
    ("created < '2026-11-01'", ["c"]),
    ("created >= '2026-11-01T10:00'", ["a", "b", "d", "e"]),
    ("created > '2026-11-01T10:00:00'", ["b", "d", "e"]),
    ("created > '2026-11-01T12:00+01:00'", ["b", "d", "e"]),  # 11:00Z
    ("created > '2026-11-01T12:00+03:00'", ["a", "b", "d", "e"]),  # 09:00Z
    ("created > '2026-11-01T05:00-0430'", ["a", "b", "d", "e"]),  # 09:30Z
    ("created > '2026-11-01T09:59:59.5Z'", ["a", "b", "d", "e"]),
    ("created = '2026-11-02T00:00Z'", ["b"]),
    (f"created = {NOV1 + 24 * HOUR}", ["b"]),  # numbers are POSIX seconds
    ("ended < '2026-11-02'", ["a"]),
    ("ended IS NULL", ["c", "d"]),
    ("created IN ('2026-11-02', '2026-10-31')", ["b", "c"]),
    ("config.date = '2026-11-01'", ["a"]),  # a non-time key compares the text
    ("seed >= '2026-11-01'", []),           # a date against a number: type mismatch
])
def test_timestamps(expr, expected):
    assert ids(expr) == expected


def test_dates_without_zone_are_in_the_given_zone():
    east = dt.timezone(dt.timedelta(hours=5))
    runs = [make_run("t", created=dt.datetime(2026, 11, 1, 0, 30, tzinfo=east).timestamp())]
    assert ids("created >= '2026-11-01'", runs, tz=east) == ["t"]
    assert ids("created >= '2026-11-01'", runs, tz=UTC) == []


def test_dates_without_zone_default_to_local_time():
    local_midnight = dt.datetime(2026, 11, 1).timestamp()  # naive: the machine's zone
    runs = [make_run("before", created=local_midnight - 1), make_run("at", created=local_midnight)]
    assert ids("created >= '2026-11-01'", runs, tz=None) == ["at"]


@pytest.mark.parametrize("text, seconds", [
    ("90s", 90), ("10m", 600), ("1h30m", 5400), ("2d", 172800), ("1.5h", 5400), ("1d2h3m4s", 93784),
    ("0s", 0), ("10", None), ("10ms", None), ("h", None), ("1h30", None),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("expr, expected", [
    ("runtime > 10m", ["b", "d", "e"]),   # a: 600 s exactly; c: 90 s
    ("runtime >= 10m", ["a", "b", "d", "e"]),
    ("runtime > 90s and runtime < 1h30m", ["a", "d"]),
    ("runtime <= 1h30m", ["a", "c", "d", "e"]),
    ("runtime = 2h", ["b"]),
    ("runtime > 1d", []),
])
def test_durations(expr, expected):
    assert ids(expr) == expected


# -- types and missing values --------------------------------------------------------------
@pytest.mark.parametrize("expr, expected", [
    ("acc > 0.75", ["a", "e"]),        # b's acc is the string 'n/a'
    ("acc = 'n/a'", ["b"]),
    ("acc >= a", ["b"]),               # strings compare with strings, lexically
    ("acc != 0.9", ["c", "e"]),        # != also needs the same type
    ("lr > 'a'", ["c"]),
    ("lr < 1", ["a", "b"]),
    ("flag = true", ["d"]),
    ("flag = false", ["e"]),
    ("flag = 1", []),                  # a bool is not a number
    ("flag != 1", []),
    ("seed = true", []),
    ("flag IN (true, 1)", ["d"]),
    ("seed IN (1, 'x')", ["a", "c"]),
    ("seed NOT IN ('1')", []),         # no listed type matches a number
    ("name =~ 1", ["a"]),              # a bare number is still a pattern's text
    ("seed =~ 1", []),                 # regex only looks at strings
    ("nonexistent = 1", []),
    ("nonexistent != 1", []),
    ("nonexistent NOT IN (1)", []),
    ("nonexistent IS NULL", ["a", "b", "c", "d", "e"]),
    ("not nonexistent = 1", ["a", "b", "c", "d", "e"]),
    ("nonexistent NOT IN (null)", []),
    ("val_loss NOT IN (null)", ["a", "b", "c", "e"]),
    ("val_loss IS NOT NULL", ["a", "b", "c", "e"]),
    ("summary.nothing.deeper = 1", []),
])
def test_type_mismatch_and_missing_never_match(expr, expected):
    assert ids(expr) == expected


# -- tags ----------------------------------------------------------------------------------
@pytest.mark.parametrize("expr, expected", [
    ("tags = gpu", ["a", "b"]),
    ("tags != gpu", ["c", "d", "e"]),
    ("tags IN (baseline, 'x y')", ["a", "d", "e"]),
    ("tags NOT IN (baseline, gpu)", ["c", "d"]),
    ("tags =~ '^base'", ["a", "e"]),
    ("tags IS NULL", ["c"]),
    ("tags IS NOT NULL", ["a", "b", "d", "e"]),
    ("tags = baseline and tags = gpu", ["a"]),
    ("tags = 'x y'", ["d"]),
    ("tags IN (null, gpu)", ["a", "b", "c"]),
])
def test_tags_are_a_set(expr, expected):
    assert ids(expr) == expected


def test_tags_compare_numbers_as_their_text():
    runs = [make_run("y", tags=["2024"]), make_run("n", tags=["2025"])]
    assert ids("tags = 2024", runs) == ["y"]


# -- ambiguity -----------------------------------------------------------------------------
AMBIGUOUS = [make_run("s", summary={"lr": 0.5}), make_run("c", config={"lr": 0.1})]
AMBIGUITY = ("key 'lr' is both a summary metric and a config key: "
             "write summary.lr or config.lr")


def test_bare_key_in_summary_and_config_is_refused():
    with pytest.raises(UsageError) as caught:
        query.compile_filter("lr > 0", AMBIGUOUS)
    assert str(caught.value) == AMBIGUITY
    assert not isinstance(caught.value, FilterError)


@pytest.mark.parametrize("call", [
    lambda: query.sort_runs(AMBIGUOUS, ["-lr"]),
    lambda: query.group_runs(AMBIGUOUS, ["lr"]),
    lambda: query.group_runs(AMBIGUOUS, ["state"], stats=["lr"]),
    lambda: query.value_getter("lr", AMBIGUOUS),
    lambda: query.get_value(make_run("both", summary={"lr": 1}, config={"lr": 2}), "lr"),
])
def test_ambiguity_is_refused_everywhere(call):
    with pytest.raises(UsageError, match="write summary.lr or config.lr"):
        call()


def test_prefixes_resolve_the_ambiguity():
    assert ids("summary.lr > 0", AMBIGUOUS) == ["s"]
    assert ids("config.lr > 0", AMBIGUOUS) == ["c"]


def test_attribute_wins_over_metrics_of_the_same_name():
    runs = [make_run("m", state="failed", summary={"state": "finished"})]
    assert ids("state = failed", runs) == ["m"]
    assert ids("summary.state = finished", runs) == ["m"]


def test_bare_key_prefers_summary_then_config():
    runs = [make_run("one", summary={"acc": 1}), make_run("two", config={"bs": 8})]
    assert ids("acc = 1", runs) == ["one"]
    assert ids("bs = 8", runs) == ["two"]


# -- errors and carets ---------------------------------------------------------------------
@pytest.mark.parametrize("expr, message, pos", [
    ("", "empty filter", 0),
    ("   ", "empty filter", 0),
    ("val_loss <=", "expected a value after '<='", 11),
    ("val_loss <= ", "expected a value after '<='", 12),
    ("val_loss <= )", "expected a value after '<='", 12),
    ("x = and", "expected a value after '=', got keyword 'and'", 4),
    ("name = 'abc", "unclosed quote", 7),
    ('name = "abc\\"', "unclosed quote", 7),
    ("`val/loss <= 1", "unclosed backquote", 0),
    ("(x = 1", "unclosed parenthesis", 0),
    ("x = 1 and ((y = 2)", "unclosed parenthesis", 10),
    ("x IN (1, 2", "unclosed parenthesis", 5),
    ("x =< 1", "unknown operator '=<'", 2),
    ("x ~= 1", "unknown operator '~='", 2),
    ("x === 1", "unknown operator '==='", 2),
    ("name =~ '(unclosed'", "bad regex '(unclosed': missing ): (unclosed", 8),
    ("name =~ '*'", "bad regex '*': no argument for repetition operator: *", 8),
    ("x = 1)", "unexpected ')'", 5),
    ("x = 1 y = 2", "expected 'and' or 'or', got 'y'", 6),
    ("x = 1 && y = 2", "expected 'and' or 'or', got '&&': use 'and'", 6),
    ("(x = 1 y = 2)", "expected 'and', 'or' or ')', got 'y'", 7),
    ("x", "expected an operator after 'x'", 1),
    ("x 1", "expected an operator after 'x', got '1'", 2),
    ("x = 1 and", "expected a comparison after 'and'", 9),
    ("x = 1 or ", "expected a comparison after 'or'", 9),
    ("not", "expected a comparison after 'not'", 3),
    ("()", "expected a key, got ')'", 1),
    ("= 1", "expected a key, got '='", 0),
    ("and x = 1", "expected a key, got keyword 'and'", 0),
    ("config. = 1", "expected a key name after '.'", 7),
    ("x IN 1", "expected '(' after IN", 5),
    ("x IN ()", "expected a value after '('", 6),
    ("x IN (1,)", "expected a value after ','", 8),
    ("x IN (1 2)", "expected ',' or ')' in the list, got '2'", 8),
    ("x NOT 1", "expected IN after NOT", 6),
    ("x IS 1", "expected NULL or NOT NULL after IS", 5),
    ("x IS NOT", "expected NULL or NOT NULL after IS", 8),
    ("x < null", "null can only be compared with =, != or IS", 4),
    ("x =~ null", "null can only be compared with =, != or IS", 5),
    ("x = `y`", "expected a value after '='", 4),
    ("tags < b", "tags can only be compared with =, !=, IN, NOT IN, =~ or IS NULL", 5),
    ("created > yesterday", "expected a date (YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM]) or a number for "
                            "'created', got 'yesterday'", 10),
    ("ended IN (1, 'soon')", "expected a date (YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM]) or a number for "
                             "'ended', got 'soon'", 13),
    ("created > '2026-13-01'", "bad date '2026-13-01': month must be in 1..12", 10),
    ("created > '2026-02-30T10:00'", "bad date '2026-02-30T10:00': day is out of range for month",
     10),
    ("(" * 101 + "x = 1" + ")" * 101, "filter nested more than 100 deep", 100),
    ("not " * 101 + "x = 1", "filter nested more than 100 deep", 400),
])
def test_error_messages_and_caret(expr, message, pos):
    error = error_of(expr)
    assert (error.message, error.pos, error.expr) == (message, pos, expr)
    rendered = error.render()
    if not expr:
        assert rendered == message
        return
    headline, echoed, caret = rendered.split("\n")
    assert headline == f"bad filter: {message} (at position {pos})"
    assert echoed == "  " + expr
    assert caret.rstrip() == " " * (2 + pos) + "^"
    assert echoed[caret.index("^"):] == expr[pos:]


def test_errors_are_usage_errors_with_exit_code_2():
    error = error_of("x =< 1")
    assert isinstance(error, UsageError) and error.exit_code == 2


def test_a_deep_but_allowed_nesting_parses():
    assert ids("(" * 100 + "id = a" + ")" * 100) == ["a"]


FILTER_ALPHABET = st.sampled_from(list("ab1.`'\"\\()=!<>~, -") + [
    " and ", " or ", "not ", " IN ", " NOT IN ", " IS NULL", " IS NOT NULL", "tags", "created",
    "config.", "summary.", "10m", "'2026-11-01'", "null", "true", "[", "*", "é", "\t"])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(FILTER_ALPHABET, max_size=14).map("".join)))
def test_parser_returns_a_tree_or_a_filter_error_in_range(expr):
    try:
        parse_filter(expr)
    except FilterError as error:
        assert 0 <= error.pos <= len(expr)
        assert error.expr == expr and error.message


@settings(max_examples=200, deadline=None)
@given(st.lists(FILTER_ALPHABET, max_size=14).map("".join))
def test_compiled_filters_never_fail_on_runs(expr):
    try:
        matches = query.compile_filter(expr, RUNS, tz=UTC)
    except FilterError as error:
        assert 0 <= error.pos <= len(expr)
        return
    for run in RUNS:
        assert matches(run) in (True, False)


# -- search --------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern, expected", [
    ("BIG", ["b"]), ("^[abc]$", ["a", "b", "c"]), ("name", ["d"]), ("-[0-9]", ["a", "b", "c", "e"]),
    ("zzz", []),
])
def test_search_matches_name_or_id_in_any_case(pattern, expected):
    found = query.compile_search(pattern)
    assert [run.id for run in RUNS if found(run)] == expected


def test_bad_search_regex_is_a_usage_error():
    with pytest.raises(UsageError, match="bad --search regex '\\(': missing \\)"):
        query.compile_search("(")


def test_select_runs_filters_searches_and_sorts():
    chosen = query.select_runs(RUNS, filter_expr="tags IS NOT NULL", search="-[0-9]$",
                               sort=["-val_loss"], tz=UTC)
    assert [run.id for run in chosen] == ["b", "e", "a"]


# -- sorting -------------------------------------------------------------------------------
@pytest.mark.parametrize("keys, expected", [
    ([], ["d", "e", "b", "a", "c"]),                 # newest first
    (["created"], ["c", "a", "b", "e", "d"]),
    (["val_loss"], ["a", "e", "b", "c", "d"]),       # NaN and missing last
    (["-val_loss"], ["b", "e", "a", "c", "d"]),      # still last when descending
    (["acc"], ["c", "e", "a", "b", "d"]),            # numbers < strings, missing last
    (["-acc"], ["b", "a", "e", "c", "d"]),
    (["exit_code", "-created"], ["e", "a", "b", "d", "c"]),
    (["seed", "id"], ["a", "c", "b", "e", "d"]),
    (["+seed", "-id"], ["c", "a", "b", "e", "d"]),
    (["-seed"], ["e", "b", "a", "c", "d"]),          # ties keep input order (stable)
    (["tags"], ["e", "a", "b", "d", "c"]),           # by joined text; no tags last
    (["summary.`val/loss`"], ["a", "b", "c", "d", "e"]),
    (["flag"], ["e", "d", "a", "b", "c"]),
])
def test_sort(keys, expected):
    assert [run.id for run in query.sort_runs(RUNS, keys)] == expected


def test_sort_of_mixed_types_is_deterministic():
    values = ["b", 2, None, True, 1.5, "a", [1], float("nan"), -1]
    runs = [make_run(str(i), summary={"v": v}) for i, v in enumerate(values)]
    ascending = [run.summary["v"] for run in query.sort_runs(runs, ["v"])]
    assert ascending[:7] == [-1, 1.5, 2, "a", "b", True, [1]]
    assert ascending[7] is None and math.isnan(ascending[8])  # NaN is missing; stable
    backwards = query.sort_runs(list(reversed(runs)), ["v"])
    assert [r.id for r in backwards][:7] == [r.id for r in query.sort_runs(runs, ["v"])][:7]
    descending = [run.summary["v"] for run in query.sort_runs(runs, ["-v"])]
    assert descending[:7] == [[1], True, "b", "a", 2, 1.5, -1]


@pytest.mark.parametrize("bad", ["", "-", "a b", "`open"])
def test_bad_sort_key_is_a_usage_error(bad):
    with pytest.raises(UsageError, match="bad key"):
        query.sort_runs(RUNS, [bad])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-5, 5), st.floats(allow_nan=True),
                          st.sampled_from(["a", "b"])), max_size=12), st.booleans())
def test_sort_puts_missing_last_and_numbers_in_order(values, descending):
    runs = [make_run(str(i), summary={} if v is None else {"v": v}) for i, v in enumerate(values)]
    got = [run.summary.get("v") for run in query.sort_runs(runs, ["-v" if descending else "v"])]
    present = [v for v in got if v is not None and v == v]
    assert got[len(present):] == [v for v in got if v is None or v != v]
    numbers = [v for v in present if not isinstance(v, str)]
    assert numbers == sorted(numbers, reverse=descending)



@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.integers(-3, 3), st.floats(-2, 2, allow_nan=False).map(round),
                                    st.sampled_from([0.5, -0.5, 1e308, -1e308])),
                          st.one_of(st.none(), st.integers(0, 2), st.floats(allow_nan=True), st.booleans())),
                max_size=14),
       st.booleans(), st.booleans())
def test_sort_keeps_the_order_of_ranking_each_value(pairs, first_descending, second_descending):
    """Plain finite numbers are sorted by their values alone (a fast path): the order, ties
    in their original order included, is the one ranking each value (sort_rank) gives."""
    from wandb_cli.query.values import sort_rank

    runs = [make_run(str(i), summary={"a": a, **({} if b is None else {"b": b})})
            for i, (a, b) in enumerate(pairs)]
    keys = [("-" if first_descending else "") + "a", ("-" if second_descending else "") + "b"]
    expected = list(runs)
    for key, descending in reversed(list(zip("ab", (first_descending, second_descending)))):
        expected.sort(key=lambda run, k=key, d=descending: sort_rank(run.summary.get(k), d),
                      reverse=descending)
    assert [r.id for r in query.sort_runs(runs, keys)] == [r.id for r in expected]


# -- grouping ------------------------------------------------------------------------------
def seeded_runs():
    """Twelve runs over 3 optimizers (one run has none) with known losses."""
    runs = []
    for i in range(12):
        config = {"seed": i % 3}
        if i != 11:
            config["opt"] = ["adam", "sgd", "rms"][i % 3]
        state = ["finished", "crashed", "finished", "failed"][i % 4]
        summary = {"loss": (i * 7 % 5) / 4 + i / 10, "note": "x"}
        runs.append(make_run(f"r{i:02d}", created=NOV1 + i, state=state, config=config,
                             summary=summary))
    return runs


def test_group_aggregates_match_statistics():
    runs = seeded_runs()
    groups = query.group_runs(runs, ["opt"], stats=["loss", "note", "nothing"], spark="loss")
    assert [g.values for g in groups] == [("adam",), ("rms",), ("sgd",), (None,)]
    assert sum(g.count for g in groups) == len(runs)
    for group in groups:
        members = [r for r in runs if r.config.get("opt") == group.values[0]]
        assert sorted(r.id for r in group.runs) == sorted(r.id for r in members)
        losses = [r.summary["loss"] for r in members]
        stats = group.stats["loss"]
        assert stats.n == len(losses)
        assert stats.mean == pytest.approx(statistics.fmean(losses))
        assert (stats.min, stats.max) == (min(losses), max(losses))
        if len(losses) > 1:
            assert stats.std == pytest.approx(statistics.stdev(losses))
        else:
            assert stats.std is None
        assert group.stats["note"].n == 0 and group.stats["nothing"].mean is None
        expected_states = {}
        for r in members:
            expected_states[r.state] = expected_states.get(r.state, 0) + 1
        assert group.states == expected_states
        assert sum(group.histogram) == len(losses) and len(group.spark) == len(group.histogram)


def test_none_group_collects_missing_values_and_labels_them():
    groups = query.group_runs(seeded_runs(), ["opt"])
    none_group = groups[-1]
    assert none_group.values == (None,) and none_group.labels == ("(none)",)
    assert [r.id for r in none_group.runs] == ["r11"]
    by_tags = query.group_runs(RUNS, ["tags"])
    assert by_tags[-1].values == (None,) and [r.id for r in by_tags[-1].runs] == ["c"]


def test_group_by_combination_of_keys():
    runs = seeded_runs()
    groups = query.group_runs(runs, ["opt", "seed"])
    combos = {(r.config.get("opt"), r.config["seed"]) for r in runs}
    assert {g.values for g in groups} == combos
    assert [g.values for g in groups] == [("adam", 0), ("rms", 2), ("sgd", 1), (None, 2)]


def test_groups_sorted_by_the_sort_keys_aggregate():
    runs = seeded_runs()
    groups = query.group_runs(runs, ["opt"], sort=["-loss"])
    means = [statistics.fmean(r.summary["loss"] for r in g.runs) for g in groups]
    assert means == sorted(means, reverse=True)
    for group in groups:  # runs inside a group follow the same sort
        losses = [r.summary["loss"] for r in group.runs]
        assert losses == sorted(losses, reverse=True)
    by_value = query.group_runs(runs, ["opt"], sort=["-opt"])
    assert [g.values for g in by_value] == [("sgd",), ("rms",), ("adam",), (None,)]


def test_groups_keep_true_apart_from_one_and_nan_together():
    runs = [make_run("t", summary={"v": True}), make_run("o", summary={"v": 1}),
            make_run("n1", summary={"v": float("nan")}), make_run("n2", summary={"v": float("nan")})]
    groups = query.group_runs(runs, ["v"])
    assert [[r.id for r in g.runs] for g in groups] == [["o"], ["t"], ["n1", "n2"]]


def test_sparkline_shape():
    runs = [make_run(f"s{i}", summary={"v": v}, config={"g": "A" if i < 6 else "B"})
            for i, v in enumerate([0, 0, 0, 1, 1, 7, 7, 7, 7, 7, 7, 7])]
    groups = query.group_runs(runs, ["g"], spark="v", bins=4)
    assert [g.histogram for g in groups] == [[5, 0, 0, 1], [0, 0, 0, 6]]  # bins span 0..7 for all
    assert [g.spark for g in groups] == ["█  ▂", "   █"]
    assert query.group_runs(runs, ["g"])[0].spark == ""


def test_group_to_dict_is_json():
    groups = query.group_runs(seeded_runs(), ["opt", "seed"], stats=["loss"], spark="loss")
    payload = json.loads(json.dumps([g.to_dict() for g in groups]))
    last = payload[-1]
    assert last["group"] == {"opt": None, "seed": 2} and last["count"] == 1
    assert last["runs"] == ["r11"] and set(last["stats"]["loss"]) == {"n", "mean", "min", "max", "std"}
    assert sum(p["count"] for p in payload) == 12


def test_group_needs_a_key():
    with pytest.raises(UsageError):
        query.group_runs(RUNS, [])


# -- values and keys -----------------------------------------------------------------------
@pytest.mark.parametrize("key, expected", [
    ("state", "finished"), ("tags", ["baseline", "gpu"]), ("runtime", 600.0),
    ("command", "python train.py --lr 0.1"), ("created", NOV1 + 10 * HOUR), ("val_loss", 0.5),
    ("lr", 0.1), ("config.optimizer.lr", 0.01), ("optimizer.name", "adam"),
    ("config.batch.size", 32), ("summary.`val/loss`", 0.25), ("missing", None),
    ("config.optimizer", {"lr": 0.01, "name": "adam"}),
])
def test_get_value(key, expected):
    assert query.get_value(RUNS[0], key) == expected


def test_collect_keys_counts_and_orders():
    keys = query.collect_keys(RUNS)
    assert keys.config == {"seed": 4, "lr": 3, "optimizer.name": 2, "flag": 2,
                           "optimizer.lr": 1, "`batch.size`": 1, "date": 1}
    assert keys.summary == {"val_loss": 4, "acc": 4, "val/loss": 1, "`a b`": 1}
    assert keys.attributes["id"] == 5 and keys.attributes["exit_code"] == 3
    assert "notes" in keys.attributes and keys.attributes["notes"] == 1
    for text in keys.qualified():
        assert query.value_getter(text, RUNS)  # every key reads back


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["config", "summary", None]),
       st.lists(st.text(min_size=0, max_size=6), min_size=1, max_size=3))
def test_format_key_reads_back(scope, path):
    key = parse_key(format_key(scope, tuple(path)))
    expected_scope = scope or ("attr" if len(path) == 1 and path[0] in ATTRIBUTES else None)
    assert (key.scope, key.path) == (expected_scope, tuple(path))


# -- a large set (timings live in benchmarks/, not here) ----------------------------------
@pytest.mark.slow
def test_filtering_100k_runs_matches_a_plain_python_check():
    runs = [make_run(f"r{i}", created=NOV1 + i, ended=NOV1 + i + (i % 7200),
                     state=("finished", "crashed")[i % 2], tags=["gpu"] if i % 3 else [],
                     config={"lr": i / 1e5, "opt": {"name": ("adam", "sgd")[i % 2]}},
                     summary={"val_loss": (i % 100) / 50})
            for i in range(100_000)]
    kept = query.select_runs(
        runs, filter_expr="val_loss <= 1 and (state = finished or tags = gpu) and not "
                          "config.opt.name = sgd and runtime > 10m and name =~ '8$'",
        sort=["-val_loss"], tz=UTC)
    expected = [r for r in runs
                if r.summary["val_loss"] <= 1 and (r.state == "finished" or "gpu" in r.tags)
                and r.config["opt"]["name"] != "sgd" and r.ended - r.created > 600
                and r.name.endswith("8")]
    expected.sort(key=lambda r: -r.summary["val_loss"])
    assert len(expected) > 1000
    assert [r.id for r in kept] == [r.id for r in expected]


def test_select_runs_resolves_sort_keys_over_all_runs():
    with pytest.raises(UsageError, match="write summary.lr or config.lr"):
        query.select_runs(AMBIGUOUS, filter_expr="summary.lr > 0", sort=["lr"])
    kept = query.select_runs(AMBIGUOUS, filter_expr="summary.lr > 0", sort=["summary.lr"])
    assert [run.id for run in kept] == ["s"]


def test_group_statistics_of_values_near_the_float_limit_do_not_crash():
    """Finite values whose sum or squared deviations are not finite (1e308 twice): the mean
    is still right and the spread is infinite, instead of an OverflowError."""
    from wandb_cli.query.group import ColumnStats

    stats = ColumnStats.of([1e308, 1e308, 1.0])
    assert stats.n == 3 and stats.max == 1e308 and stats.min == 1.0
    assert stats.mean == pytest.approx(6.666666666666666e307)
    assert stats.std == float("inf")
    assert ColumnStats.of([1, 2, 3, "x", None, float("nan")]).to_dict() == \
        {"n": 3, "mean": 2.0, "min": 1, "max": 3, "std": 1.0}
    inf = float("inf")  # one run diverged up, another down: fsum refuses inf + -inf
    assert ColumnStats.of([inf, -inf, 2.0]).to_dict() == \
        {"n": 1, "mean": 2.0, "min": 2.0, "max": 2.0, "std": None}


_MIXED = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6),
                   st.booleans(), st.none(), st.just("x"), st.just(0.0), st.just(1.0))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(_MIXED, max_size=60), st.lists(st.floats(), max_size=60)),
       st.one_of(st.lists(_MIXED, max_size=60), st.lists(st.floats(), max_size=60)),
       st.integers(1, 12))
@example([math.inf, -math.inf, 1.0, 2.0], [math.inf, -math.inf, 1.5, 2.0], 4)  # fsum refuses
@example([], [2.5896726560321327e+297, -1.797693134836419e+308], 1)  # a span past the largest float
def test_histogram_bins_each_finite_number_as_the_formula_says(spanned, counted, most):
    """The C-level binning gives each value the bin `int((v - low) / width * count)`,
    clamped, as a per-value loop does; NaN, infinities, bools, text and None are left out."""
    from wandb_cli.query.group import _Bins

    bins = _Bins.spanning(spanned + counted, most)
    finite = [v for v in spanned + counted if type(v) in (int, float) and math.isfinite(v)]
    if bins is None:
        assert not finite
        return
    expected = [0] * bins.count
    low, width, scale = bins.low, bins.high - bins.low, 1.0
    if math.isinf(width):  # (a span past the largest float: in halves)
        low, width, scale = bins.low / 2, bins.high / 2 - bins.low / 2, 0.5
    for value in (v for v in counted if type(v) in (int, float) and math.isfinite(v)):
        index = int((value * scale - low) / width * bins.count) if width else 0
        expected[min(max(index, 0), bins.count - 1)] += 1
    assert bins.histogram(counted) == expected
    assert bins.histogram(iter(counted)) == expected


def test_group_statistics_from_columns_the_caller_read_equal_reading_them_again():
    """`known` (the listing's own column values) gives the groups what reading each key
    again would; a `known` that is not the runs' own values shows in the result."""
    runs = query.sort_runs(seeded_runs())
    plain = query.group_runs(runs, ["opt"], stats=["loss", "seed"], spark="loss", presorted=True)
    known = {"loss": [r.summary["loss"] for r in runs], "seed": [r.config["seed"] for r in runs]}
    reused = query.group_runs(runs, ["opt"], stats=["loss", "seed"], spark="loss", presorted=True,
                              known=known)
    assert [g.to_dict() for g in reused] == [g.to_dict() for g in plain]
    doubled = query.group_runs(runs, ["opt"], stats=["loss"], presorted=True,
                               known={"loss": [2 * v for v in known["loss"]]})
    assert [g.stats["loss"].mean for g in doubled] == \
        pytest.approx([2 * g.stats["loss"].mean for g in plain])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_MIXED, st.lists(_MIXED, max_size=3),
                          st.dictionaries(st.just("k"), _MIXED, max_size=1)), max_size=30))
def test_the_nonfinite_check_of_a_listing_equals_walking_each_value(values):
    """`runs ls --format json` checks its records' summaries and configs for NaN and
    infinities with C-level passes (views.output); it must say what the walk says."""
    from wandb_cli.store.jsonio import has_nonfinite
    from wandb_cli.views.output import has_nonfinite_in, may_hold_nonfinite

    assert has_nonfinite_in([dict(enumerate(values)), {}]) == has_nonfinite(values)
    records = [{"summary": {"a": v}, "config": {}} for v in values]
    assert may_hold_nonfinite(records) == has_nonfinite(values)


def test_a_key_resolver_given_an_iterator_reads_the_runs_once_and_resolves_config_keys():
    from wandb_cli.query.values import KeyResolver

    runs = [make_run("a", config={"lr": 0.1}, summary={"loss": 1.0}),
            make_run("b", config={"lr": 0.2}, summary={"loss": 2.0})]
    resolver = KeyResolver(iter(runs))
    assert resolver.resolve("lr").scope == "config" and resolver.resolve("loss").scope == "summary"
    assert [resolver.getter("lr")(run) for run in runs] == [0.1, 0.2]
    chosen = query.select_runs(iter(runs), filter_expr="lr > 0.15", sort=["-loss"])
    assert [run.id for run in chosen] == ["b"]
