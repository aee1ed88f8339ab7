"""ui/series.py: history files read incrementally into columns, joined and downsampled."""
from __future__ import annotations

import json

from wandb_cli.ui.series import SeriesCache, aligned_series, series_of


def write(path, rows, mode="a"):
    with open(path, mode) as fh:
        fh.write("".join(json.dumps(row) + "\n" for row in rows))


def test_dense_sparse_torn_and_appended_rows(tmp_path):
    path = tmp_path / "h.jsonl"
    write(path, [{"_step": 0, "loss": 1.0, "acc": 0.1}, {"_step": 1, "loss": 0.5}], mode="w")
    with open(path, "a") as fh:
        fh.write('{"_step": 2, "loss": 0.2')  # torn: left for later
    cache = SeriesCache()
    assert aligned_series(cache, path, "loss", "_step") == ([0.0, 1.0], [1.0, 0.5])
    assert aligned_series(cache, path, "acc", "_step") == ([0.0], [0.1])
    with open(path, "a") as fh:
        fh.write(', "acc": "text"}\n')
    write(path, [{"_step": 3, "acc": 0.4, "loss": float("nan")}, {"_step": 4, "acc": True, "loss": 0.1}])
    assert aligned_series(cache, path, "loss", "_step") == ([0.0, 1.0, 2.0, 4.0], [1.0, 0.5, 0.2, 0.1])
    assert aligned_series(cache, path, "acc", "_step") == ([0.0, 3.0], [0.1, 0.4])
    answer = series_of(cache, path, keys=None, x="_step", after=1.0)
    assert answer["series"]["loss"]["x"] == [2.0, 4.0] and answer["rows"] == 5
    assert answer["x_keys"] == ["_step"] and answer["last_x"] == 4.0


def test_x_out_of_order_and_sparse_x_are_sorted(tmp_path):
    path = tmp_path / "h.jsonl"
    write(path, [{"t": 3, "y": 30}, {"t": 1, "y": 10}, {"y": 99}, {"t": 2, "y": 20}], mode="w")
    assert aligned_series(SeriesCache(), path, "y", "t") == ([1.0, 2.0, 3.0], [10.0, 20.0, 30.0])


def test_downsampling_keeps_the_spike(tmp_path):
    path = tmp_path / "h.jsonl"
    write(path, [{"_step": i, "loss": 100.0 if i == 7777 else 1.0 / (i + 1)} for i in range(20_000)], mode="w")
    got = series_of(SeriesCache(), path, keys=["loss"], x="_step", max_points=100)["series"]["loss"]
    assert got["count"] == 20_000 and len(got["x"]) <= 100 and got["sampled"]
    assert 7777.0 in got["x"] and max(got["y"]) == 100.0
