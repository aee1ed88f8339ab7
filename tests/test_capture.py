"""The metric-line rule and carriage-return collapsing (pure functions)."""
from __future__ import annotations

import math

import pytest

from wandb_cli.capture import LineSplitter, collapse, parse_metrics


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
