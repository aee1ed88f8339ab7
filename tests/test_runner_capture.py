"""The metric-line rule and carriage-return collapsing (pure functions)."""
from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wandb_cli.runner.capture import LineSplitter, collapse, parse_metrics


@pytest.mark.parametrize("line, expected", [
    (b"epoch=0, accuracy=0.51, loss=1.9", {"epoch": 0, "accuracy": 0.51, "loss": 1.9}),
    (b"loss: 0.3 acc: 0.9", {"loss": 0.3, "acc": 0.9}),
    (b"  step=3 lr=1e-4  ", {"step": 3, "lr": 1e-4}),
    (b"val/loss=0.25", {"val/loss": 0.25}),
    (b"a=-1,b=+2.5,c=.5", {"a": -1, "b": 2.5, "c": 0.5}),
    (b"\x1b[32mloss=0.1\x1b[0m", {"loss": 0.1}),
    (b"x=1,", {"x": 1}),
])
def test_metric_lines(line, expected):
    assert parse_metrics(line) == expected


# The whole-line regex parse_metrics used before: the reference for its accept/reject rule.
_OLD_KEY = r"[A-Za-z_][\w./\-]*"
_OLD_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf|infinity)"
_OLD_PAIR = rf"({_OLD_KEY})\s*(?:=|:)\s*({_OLD_NUMBER})"
_OLD_LINE = re.compile(rf"\s*{_OLD_PAIR}(?:(?:\s*,\s*|\s+){_OLD_PAIR})*\s*,?\s*", re.IGNORECASE)
_OLD_PAIRS = re.compile(_OLD_PAIR, re.IGNORECASE)


def old_parse(text: str) -> dict | None:
    if "=" not in text and ":" not in text or not _OLD_LINE.fullmatch(text):
        return None
    return {key: int(raw) if re.fullmatch(r"[-+]?\d+", raw) else float(raw)
            for key, raw in _OLD_PAIRS.findall(text)}


def comparable(metrics: dict | None):
    """NaN equal to NaN, and 1 unequal to 1.0."""
    if metrics is None:
        return None
    return {k: (type(v), "nan" if v != v else v) for k, v in metrics.items()}


TOKENS = ["a", "x_1", "v/l", "=", ":", " ", "\t", ",", "1", "-2", "+3", ".5", "1.", "1e5", "1e",
          "E-3", "nan", "NaN", "inf", "infinity", "in", "e", "-", ".", "0"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(alphabet="anfitxE_01=:, \t.-e+", max_size=24),
                 st.lists(st.sampled_from(TOKENS), max_size=12).map("".join)))
def test_parser_agrees_with_the_old_regex(text):
    assert comparable(parse_metrics(text.encode())) == comparable(old_parse(text))


# Lines on which the old regex backtracked for seconds; each now takes about a millisecond.
@pytest.mark.parametrize("line", [
    b"a=1" + b" " * 60000 + b"x",  # the old regex took 7.4 s
    b"loss: 0.5" + b"\t" * 20000 + b"|",  # 0.88 s
    b"a=1" + b" " * 60000 + b", ," + b" " * 60000,
    b"a" * 60000 + b" " * 60000 + b"=x",
    b"a=1 " * 15000 + b"b",
])
def test_long_blank_runs_are_rejected(line):
    assert parse_metrics(line) is None


def test_long_metric_lines_are_read():
    line = b"  ".join(b"k%d=%d" % (i, i) for i in range(5000)) + b" " * 30000 + b","
    assert parse_metrics(line) == {f"k{i}": i for i in range(5000)}


def test_nan_and_inf_values():
    metrics = parse_metrics(b"loss=nan, best=inf")
    assert math.isnan(metrics["loss"]) and metrics["best"] == math.inf


@pytest.mark.parametrize("line", [
    b"", b"hello world", b"loss=0.5 is good", b"Epoch 1/10", b"loss=abc", b"time: 12:30",
    b"[INFO] loss=0.5", b"url=http://x", b"loss = 0.5s", b"=5", b"1=2", b"loss=0.5;x",
])
def test_not_metric_lines(line):
    assert parse_metrics(line) is None


@pytest.mark.parametrize("line, expected", [
    (b"plain", b"plain"), (b"10%\r50%\r100%", b"100%"), (b"done\r", b"done"),
    (b"a\r\r", b"a"), (b"abc\r", b"abc"), (b"\r", b""),
])
def test_collapse(line, expected):
    assert collapse(line) == expected


def test_splitter_keeps_partial_lines():
    splitter = LineSplitter()
    assert splitter.feed(b"ab") == []
    assert splitter.feed(b"c\nde\nf") == [b"abc", b"de"]
    assert splitter.flush() == [b"f"]
    assert splitter.flush() == []
