"""Pure parts of the sync wing: batching within MLflow's limits, flattening, the `.wandb`
framing across blocks, history sampling."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wandb_cli.api.public import sample_rows
from wandb_cli.sync.batching import MAX_BODY_BYTES, batches, item_bytes
from wandb_cli.sync.mlflow_tags import param_text, valid_key
from wandb_cli.sync.source import flatten, numeric_items
from wandb_cli.sync.wandb_log import iter_payloads

items = st.one_of(
    st.tuples(st.just("metric"), st.text(min_size=1, max_size=300), st.floats(), st.integers(0, 2**40),
              st.integers(0, 10**6)),
    st.tuples(st.just("param"), st.text(min_size=1, max_size=250), st.text(max_size=6000)),
    st.tuples(st.just("tag"), st.text(min_size=1, max_size=250), st.text(max_size=8000)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(items, max_size=2500))
def test_batches_keep_order_and_every_limit(seq):
    out = list(batches(seq))
    assert [i for b in out for i in [*b.metrics, *b.params, *b.tags]] != [] or not seq
    flat_out = sorted(id(i) for b in out for i in [*b.metrics, *b.params, *b.tags])
    assert flat_out == sorted(id(i) for i in seq)
    for batch in out:
        assert len(batch.metrics) <= 1000 and len(batch.params) <= 100 and len(batch.tags) <= 100
        assert batch.size <= 1000
        assert sum(len(repr(i).encode()) for i in [*batch.metrics, *batch.params, *batch.tags]) < MAX_BODY_BYTES
    metrics = [i for i in seq if i[0] == "metric"]
    assert [i for b in out for i in b.metrics] == metrics


def test_batches_of_large_runs():
    metrics = [("metric", "loss", 0.5, 1, s) for s in range(10_000)]
    assert [len(b.metrics) for b in batches(metrics)] == [1000] * 10
    params = [("param", f"k{i}", "v") for i in range(1000)]
    assert [len(b.params) for b in batches(params)] == [100] * 10
    long_params = [("param", f"k{i}", "x" * 6000) for i in range(400)]
    for batch in batches(long_params):
        assert sum(item_bytes(i) for i in batch.params) < MAX_BODY_BYTES


def test_flatten_and_metric_values():
    assert flatten({"a": {"b": 1, "c": {"d": 2}}, "e": {}, "h": {"_type": "histogram", "bins": [1]}}) == {
        "a.b": 1, "a.c.d": 2, "e": {}, "h": {"_type": "histogram", "bins": [1]}}
    row = {"loss": 1, "ok": True, "name": "x", "n": {"x": 2.5}, "_step": 3}
    assert dict(numeric_items(row)) == {"loss": 1.0, "n.x": 2.5}
    assert param_text("adam") == "adam" and param_text(0.01) == "0.01" and param_text([1, 2]) == "[1,2]"
    assert valid_key("train/loss") and valid_key("a.b c:d")
    assert not valid_key("bad!key") and not valid_key("../up") and not valid_key("a//b") and not valid_key("")


def frame(records: list[bytes]) -> bytes:
    """W&B's framing, written independently: header, 32 KiB blocks, chunks split across blocks."""
    out = bytearray(struct.pack("<4sHB", b":W&B", 0xBEE1, 0))
    for record in records:
        rest, first = record, True
        while True:
            left = 32768 - len(out) % 32768
            if left < 7:
                out += b"\0" * left
                continue
            piece, rest = rest[:left - 7], rest[left - 7:]
            kind = (1 if not rest else 2) if first else (4 if not rest else 3)
            out += struct.pack("<IHB", 0, len(piece), kind) + piece
            first = False
            if not rest:
                break
    return bytes(out)


def test_wandb_framing_across_blocks():
    records = [b"a" * 10, b"b" * 70_000, b"c" * 32_750, b"", b"d" * 5]
    assert list(iter_payloads(frame(records))) == records
    torn = frame(records)[:-3]
    assert list(iter_payloads(torn)) == records[:-1]
    with pytest.raises(ValueError):
        list(iter_payloads(b"NOPE" + b"\0" * 20))


def test_sample_rows_keeps_ends():
    rows = [{"_step": i} for i in range(100)]
    picked = sample_rows(rows, 7)
    assert len(picked) == 7 and picked[0]["_step"] == 0 and picked[-1]["_step"] == 99
    assert sample_rows(rows, 500) == rows and sample_rows(rows, 1) == [rows[-1]]
    assert sample_rows(rows, 0) == []


@pytest.mark.parametrize("name", [
    "loss", "ключ", "accuracy_δ", "数据/损失", "a b:c-d.e", "٣", "k" * 250, "k" * 251, "", ".",
    "a/../b", "../a", "/a", "a//b", "a/", "bad*key", "tab\tkey", "é́", "loss\n", "x\u00b7y"])
def test_valid_key_is_mlflow_s_own_rule(name):
    validation = pytest.importorskip("mlflow.utils.validation")
    theirs = (bool(validation.validate_param_and_metric_name(name))
              and not validation.path_not_unique(name)
              and len(name) <= validation.MAX_ENTITY_KEY_LENGTH)
    assert valid_key(name) == theirs
