"""The history digest: exact statistics, spikes kept, never trusted over a changed history;
big histories shown, charted and exported in bounded memory by a real `wbrun`."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.genhistory import SPIKE, generate
from tests.conftest import wbrun_cmd
from tests.helpers import PEAK_PROBE
from wandb_cli.store import digest as digests
from wandb_cli.store.history import columns_of, read_history, to_csv
from wandb_cli.store.layout import HISTORY, RunPaths


def _history(run_dir: Path) -> Path:
    return RunPaths(run_dir).file(HISTORY)


def _append(run_dir: Path, rows: list[dict]) -> None:
    with open(_history(run_dir), "ab") as fh:
        fh.write(b"".join(json.dumps(row).encode() + b"\n" for row in rows))


def _exact_stats(run_dir: Path) -> dict:
    stats: dict = {}
    for row in read_history(run_dir):
        for key, value in row.items():
            if type(value) in (int, float):
                s = stats.setdefault(key, {"min": value, "max": value, "count": 0})
                s.update(min=min(s["min"], value), max=max(s["max"], value), last=value,
                         count=s["count"] + 1)
    return stats


@pytest.fixture
def run_dir(tmp_path) -> Path:
    return generate(tmp_path / "store", 30_000)


def test_statistics_are_exact_and_the_spike_survives(run_dir):
    digest = digests.load_digest(run_dir)
    assert digest.rows == 30_000
    assert digest.history_stats() == _exact_stats(run_dir)
    points = digests.series(run_dir, ["loss"], "_step", 100)["loss"]
    assert len(points["x"]) <= 100 and points["downsampled"]
    assert max(points["max"]) == SPIKE
    assert min(points["min"]) == digest.history_stats()["loss"]["min"]
    assert max(row.get("loss", 0) for row in digest.sample_rows()) == SPIKE


def test_a_grown_history_is_read_on_from_where_the_digest_stopped(run_dir):
    digests.load_digest(run_dir)
    _append(run_dir, [{"loss": -5.0, "_step": 30_000}, {"loss": 0.5, "_step": 30_001}])
    digest = digests.load_digest(run_dir)
    assert digest.rows == 30_002
    assert digest.history_stats()["loss"] == {"min": -5.0, "max": SPIKE, "last": 0.5,
                                              "count": 30_002}


def test_a_torn_last_line_waits_until_it_is_whole(run_dir):
    digests.load_digest(run_dir)
    with open(_history(run_dir), "ab") as fh:
        fh.write(b'{"loss": -7.0, "_st')
    assert digests.load_digest(run_dir).rows == 30_000
    with open(_history(run_dir), "ab") as fh:
        fh.write(b'ep": 30000}\n')
    digest = digests.load_digest(run_dir)
    assert digest.rows == 30_001 and digest.history_stats()["loss"]["min"] == -7.0


@pytest.mark.parametrize("change", ["rewrite-same-size", "truncate", "replace-file"])
def test_a_changed_history_is_never_described_by_the_old_digest(run_dir, change):
    digests.load_digest(run_dir)
    path = _history(run_dir)
    data = path.read_bytes()
    if change == "rewrite-same-size":  # same length, different last bytes
        path.write_bytes(data[:-4] + b'9.0}\n'[-4:])
        path.write_bytes(data.replace(b'"loss":1000.0', b'"loss":9999.0'))
    elif change == "truncate":
        path.write_bytes(data[:len(data) // 2].rsplit(b"\n", 1)[0] + b"\n")
    else:
        tmp = path.with_name("new")
        tmp.write_bytes(data.replace(b'"loss":1000.0', b'"loss":9999.0'))
        os.replace(tmp, path)
    digest = digests.load_digest(run_dir)
    assert digest.history_stats() == _exact_stats(run_dir)


def test_an_unreadable_digest_is_rebuilt(run_dir):
    digests.load_digest(run_dir)
    (run_dir / digests.DIGEST).write_bytes(b"{not json")
    assert digests.load_digest(run_dir).history_stats() == _exact_stats(run_dir)


def test_streamed_csv_and_json_equal_the_whole_history(run_dir, tmp_path):
    """A history above the streaming threshold: `runs history` prints what reading it
    whole prints (a row with a tiny float and one with a string take the slow path)."""
    _append(run_dir, [{"loss": 0.00001, "_step": 30_000}, {"loss": "n/a", "_step": 30_001},
                      {"loss": float("nan"), "_step": 30_002}])
    rows = read_history(run_dir)
    store = run_dir.parent
    out = subprocess.run(wbrun_cmd("runs", "history", "bighist1", "--format", "csv",
                                   "--dir", str(store)), capture_output=True, text=True, check=True)
    if os.path.getsize(_history(run_dir)) >= digests.SMALL_BYTES:
        assert out.stdout == to_csv(rows, columns_of(rows))
    got = list(csv.reader(io.StringIO(out.stdout)))
    assert len(got) == len(rows) + 1
    out = subprocess.run(wbrun_cmd("runs", "history", "bighist1", "--format", "json",
                                   "--dir", str(store)), capture_output=True, check=True)
    assert len(json.loads(out.stdout)) == len(rows)


def test_an_integer_beyond_a_float_is_shown_not_a_crash(run_dir):
    """Found while making the digest column-wise: a big history holding an integer no float
    can hold (JSON allows any) made `runs show` fail with an internal error (OverflowError
    in the digest); the digest now leaves such a value out, as it does a string."""
    assert os.path.getsize(_history(run_dir)) >= digests.SMALL_BYTES
    with open(_history(run_dir), "ab") as fh:
        fh.write(b'{"_step": 30000, "loss": 1' + b"0" * 400 + b"}\n")
        for step, value in ((30_001, 2**1023 - 1), (30_002, 2**1023 - 1), (30_003, 0.5)):
            fh.write(b'{"_step": %d, "n": %d}\n' % (step, value))  # (review: their sum, then a float)
    out = subprocess.run(wbrun_cmd("runs", "show", "bighist1", "--dir", str(run_dir.parent)),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    stats = digests.load_digest(run_dir).history_stats()
    assert stats["loss"]["count"] == 30_000 and stats["n"]["count"] == 1


@pytest.mark.slow
def test_half_a_million_step_history_in_bounded_memory(tmp_path):
    """show, history (csv, json), plot and ls --spark on 1,000,000 steps by a real wbrun:
    each process's peak RSS stays under 150 MB."""
    store = tmp_path / "store"
    generate(store, 500_000)  # read whole, its rows alone would take ~250 MB
    probe = tmp_path / "probe.py"
    probe.write_text(PEAK_PROBE)
    peak_file = tmp_path / "peak_kb"
    commands = [["runs", "show", "bighist1"], ["runs", "history", "bighist1", "--format", "csv"],
                ["runs", "history", "bighist1", "--format", "json"],
                ["runs", "plot", "bighist1", "--output", str(tmp_path / "p.svg")],
                ["runs", "ls", "--spark", "loss"]]
    for args in commands:
        child = subprocess.Popen([sys.executable, str(probe), str(peak_file), *args, "--dir", str(store)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        lines = 0
        while chunk := child.stdout.read(1 << 20):
            lines += chunk.count(b"\n")
        assert child.wait() == 0, child.stderr.read()
        peak_kb = int(peak_file.read_text())
        assert peak_kb < 150 * 1024, (args, peak_kb)
        if args[1] == "history" and args[-1] == "csv":
            assert lines == 500_001
    _check_ui_series(store)


def _check_ui_series(store: Path) -> None:
    """The web UI's series of the same run come from its digest: the history's own points
    (checked against the generator), the spike kept, x in order, the cursor honoured, and
    the server's peak RSS under 150 MB (its per-point arrays would take ~40 MB a key)."""
    from benchmarks.genhistory import rows
    from tests.helpers_ui import UiServer

    assert os.path.getsize(_history(next(store.glob("run-*")))) >= 64 << 20  # the digest path
    with UiServer(store, "--read-only") as server:
        status, answer = server.json("/api/runs/bighist1/history?max_points=2000")
        assert status == 200 and answer["rows"] == 500_000 and answer["digest"]
        assert set(answer["keys"]) == {"loss", "val_loss", "accuracy", "lr", "grad_norm"}
        loss = answer["series"]["loss"]
        assert loss["count"] == 500_000 and loss["sampled"] and 500 <= len(loss["x"]) <= 2000
        assert loss["x"] == sorted(loss["x"]) and max(loss["y"]) == SPIKE
        for step, value in list(zip(loss["x"], loss["y"]))[::97]:
            assert rows(int(step), int(step) + 1, 500_000)[0]["loss"] == value
        status, tail = server.json("/api/runs/bighist1/history?keys=lr&after_step=499000")
        assert status == 200 and tail["series"]["lr"]["x"] and min(tail["series"]["lr"]["x"]) > 499_000
        # smoothing (the UI's slider) from the digest too: it read every point before
        status, smooth = server.json("/api/runs/bighist1/history?keys=loss&smooth=1000&max_points=2000")
        assert status == 200 and smooth["digest"]
        line = smooth["series"]["loss"]
        assert 500 <= len(line["x"]) <= 2000 and line["x"] == sorted(line["x"]) and line["sampled"]
        assert max(line["y"]) < SPIKE  # the spike averaged over its window
        with open(f"/proc/{server.proc.pid}/status") as fh:
            peak_kb = int(next(line for line in fh if line.startswith("VmHWM")).split()[1])
        assert peak_kb < 150 * 1024, peak_kb


def test_a_big_historys_smoothing_is_the_trailing_mean_at_each_buckets_end(run_dir):
    """The web UI's smoothing of a big history comes from the digest: at each bucket's end,
    the mean of the last `window` values (the window whole buckets here, every row holding
    the key: exact), a window smaller than a bucket widened to one bucket."""
    import math

    digest = digests.load_digest(run_dir)
    loss = [row["loss"] for row in read_history(run_dir)]
    width = digest.width
    for window in (4 * width, 1):
        xs, ys, count = digests.smoothed(digest, "loss", "_step", window, 10_000)
        assert count == len(loss) and len(xs) == len(digest.buckets) and xs == sorted(xs)
        span = max(window, width)
        whole = [(int(step) + 1, value) for step, value in zip(xs, ys) if (int(step) + 1) % width == 0]
        assert len(whole) >= len(xs) - 1  # (only the last bucket may be part-filled)
        for end, value in whole:
            assert math.isclose(value, math.fsum(loss[max(0, end - span):end]) / min(end, span), rel_tol=1e-12)
    xs, ys, _ = digests.smoothed(digest, "loss", "_step", 4 * width, 100)  # neighbours joined
    assert len(xs) <= 100 and xs == sorted(xs)


@pytest.mark.parametrize("block_bytes", [7, 64, 1 << 20])
def test_blocks_are_the_whole_lines_once_each_with_their_end_offsets(tmp_path, monkeypatch, block_bytes):
    """Blocks cover every whole line from `start` once, in order, each ending where its
    offset says; a line longer than a block comes whole; a torn last line is left out."""
    monkeypatch.setattr(digests, "BLOCK_BYTES", block_bytes)
    lines = [b'{"a":%d}' % i + b"x" * (i * 37 % 200) for i in range(300)]
    data = b"\n".join(lines) + b"\n" + b'{"torn":'
    path = tmp_path / "h.jsonl"
    path.write_bytes(data)
    start = len(lines[0]) + 1
    with open(path, "rb") as fh:
        fh.seek(start)
        blocks = list(digests.iter_blocks(fh, start, len(data)))
    assert b"".join(block for block, _ in blocks) == data[start:data.rindex(b"\n") + 1]
    ends = [end for _, end in blocks]
    assert ends == sorted(ends) and ends[-1] == data.rindex(b"\n") + 1
    assert all(block.endswith(b"\n") and data[end - len(block):end] == block for block, end in blocks)
    if block_bytes == 7:
        assert len(blocks) == len(lines) - 1  # each line longer than a block: one block each


def _row_by_row(rows: list[dict]) -> digests.Digest:
    digest = digests.Digest()
    for row in rows:
        digest._add(row)
    return digest


@pytest.mark.parametrize(("seed", "buckets"), [(seed, buckets) for seed in range(10) for buckets in (2, 3, 8)])
def test_column_wise_blocks_make_the_row_by_row_digest(monkeypatch, seed, buckets):
    """Blocks whose rows hold the same keys, all finite numbers, are added a column at a
    time: the digest (buckets, their first/min/max/last rows, sums, kept rows, statistics)
    is byte for byte what adding the rows one by one makes, across halvings and prunes,
    for ties, ints mixed with floats, -0.0, and blocks of any other shape between them."""
    import random

    monkeypatch.setattr(digests, "MAX_BUCKETS", buckets)
    rng = random.Random(seed * 10 + buckets)
    plain = [0, 1, -1, 2.5, -0.0, 0.0, 1e280, -1e280, 3, 3.0, 0.1, 7]
    odd = [True, False, None, "x", float("nan"), float("inf"), -float("inf"), [1], 10**400, 2**1023 + 1]
    keys = ["a", "b", "c"]
    blocks = []
    for i in range(rng.randint(5, 40)):
        shape = 0.0 if i == 0 else rng.random()  # (the first block plain: the path is taken)
        count = rng.choice([1, 2, 3, 7, 50, 300])
        if shape < 0.6:  # the plain shape (keys in any order in a row)
            block = [dict(rng.sample([(k, rng.choice(plain)) for k in keys], len(keys))) for _ in range(count)]
        elif shape < 0.8:  # an odd value somewhere
            block = [{k: rng.choice(plain) for k in keys} for _ in range(count)]
            block[rng.randrange(count)][rng.choice(keys)] = rng.choice(odd)
        else:  # keys that come and go
            block = [{k: rng.choice(plain) for k in rng.sample(keys + ["d"], rng.randint(0, 3))}
                     for _ in range(count)]
        blocks.append(block)
    added = []
    real = digests.Digest._add_plain
    monkeypatch.setattr(digests.Digest, "_add_plain",
                        lambda self, rows, *rest: added.append(len(rows)) or real(self, rows, *rest))
    digest = digests.Digest()
    for block in blocks:
        digest.add_rows(block)
    reference = _row_by_row([row for block in blocks for row in block])
    assert digest.to_bytes() == reference.to_bytes()
    assert digest.width > 1 and added  # halved, and the column-wise path taken


def test_a_row_without_numbers_that_opens_a_bucket_delays_the_halving_in_both_ways(monkeypatch):
    """Found by review: `_add` halves only after a row holding a number, so a bucket opened
    by a row without one waits; the column-wise path then halved a whole block later and
    dropped that bucket's rows earlier."""
    monkeypatch.setattr(digests, "MAX_BUCKETS", 2)
    blocks = [[{"a": 1}] * 8 + [{"s": "x"}], [{"a": 1}] * 3]
    digest = digests.Digest()
    for block in blocks:
        digest.add_rows(block)
    assert digest.to_bytes() == _row_by_row([row for block in blocks for row in block]).to_bytes()


def test_column_wise_sums_keep_the_sign_of_zero_and_row_order(monkeypatch):
    """A bucket's sum is added in row order from its first value, as row by row: -0.0
    stays -0.0, and 1e16 + 1 + 1... stays 1e16 (the order floats are added in shows)."""
    monkeypatch.setattr(digests, "MAX_BUCKETS", 1)  # one bucket: every row in it
    rows = [{"a": -0.0, "b": 1e16}] + [{"a": -0.0, "b": 1.0}] * 7
    digest = digests.Digest()
    digest.add_rows(rows)
    assert digest.to_bytes() == _row_by_row(rows).to_bytes()
    assert len(digest.buckets) == 1 and digest.width == 8
    assert str(digest.buckets[0]["a"][digests.SUM]) == "-0.0"
    assert digest.buckets[0]["b"][digests.SUM] == 1e16


def _digest_fields(digest: digests.Digest) -> tuple:
    return digest.rows, digest.width, digest.buckets, digest.kept, digest.stats, list(digest.columns)


@pytest.mark.parametrize("keep", [True, False])
def test_a_live_runs_ticker_keeps_a_big_historys_digest(tmp_path, monkeypatch, keep):
    """The wrapper's ticker brings the digest up to date as the history grows past
    LIVE_BYTES, every LIVE_STEP (the sizes made small here); what it built is what a
    reader builds from scratch.  A ticker without keep_digest (a program's own SDK run)
    writes none."""
    import time

    from wandb_cli.store.layout import Store
    from wandb_cli.store.recorder import RunSpec, Ticker, start_run

    monkeypatch.setattr(digests, "LIVE_BYTES", 40_000)
    monkeypatch.setattr(digests, "LIVE_STEP", 20_000)
    live = start_run(Store(tmp_path / "wandb"), RunSpec(id="livedig1"), pid=os.getpid(), recorder="test")
    ticker = Ticker(live, poll_s=0.01, flush_s=0.02, keep_digest=keep)
    ticker.start()
    run_dir, stored = Path(live.paths.dir), Path(live.paths.dir) / digests.DIGEST
    try:
        for step in range(3000):
            live.log({"loss": 1 / (step + 1), "acc": step % 7})
            if step % 500 == 499:
                time.sleep(0.2)  # ticks happen
    finally:
        ticker.stop()
    if ticker._digesting is not None:
        ticker._digesting.wait(60)
    size = os.path.getsize(_history(run_dir))
    assert size > 100_000
    if not keep:
        assert not stored.exists()
        return
    kept = digests._stored(stored)
    assert kept is not None and digests.LIVE_BYTES <= kept.covered <= size
    assert kept.rows == sum(1 for _ in open(_history(run_dir), "rb").read(kept.covered).splitlines())
    live.finish("finished", 0)
    brought_up = digests.load_digest(run_dir)  # a reader reads on from where the ticker stopped
    stored.unlink()
    assert _digest_fields(brought_up) == _digest_fields(digests.load_digest(run_dir))  # from scratch
    assert brought_up.rows == 3000


def test_one_parse_of_a_block_never_reads_two_objects_on_one_line():
    """Found by review: the block's one parse read `{..},{..}` on one line as two rows,
    where reading line by line (small histories) skips it as corrupt."""
    block = b'{"a":1},{"b":2}\n{"a":3}\n'
    assert digests.parse_block(block) == ([{"a": 3}], 1)


@pytest.mark.parametrize("encoding", ["utf-16", None])
def test_big_csv_goes_out_in_the_output_encoding_or_to_an_in_process_stream(run_dir, encoding):
    """Found by review: the piped fast path wrote ASCII bytes beneath the text layer, so a
    UTF-16 stdout got a UTF-16 header and raw rows, and an in-process caller's StringIO
    (no .buffer) made `main()` fail; both now get the text path."""
    import contextlib

    from wandb_cli.cli import main

    rows = read_history(run_dir)
    args = ["runs", "history", "bighist1", "--format", "csv", "--dir", str(run_dir.parent)]
    if encoding:
        out = subprocess.run(wbrun_cmd(*args), capture_output=True, check=True,
                             env={**os.environ, "PYTHONIOENCODING": encoding})
        assert out.stdout.decode(encoding) == to_csv(rows, columns_of(rows))
        return
    text = io.StringIO()
    with contextlib.redirect_stdout(text), pytest.raises(SystemExit) as ended:
        main(args)
    assert ended.value.code in (0, None)
    assert text.getvalue() == to_csv(rows, columns_of(rows))


@pytest.mark.slow
def test_a_wrapped_run_past_the_live_size_leaves_its_digest_built(tmp_path):
    """End to end at the real sizes: a wrapped program prints metric lines until its history
    is past LIVE_BYTES, then waits (at most a minute) for the digest to appear while it
    still runs: the wrapper builds it as the run goes."""
    store = tmp_path / "wandb"
    rows = digests.LIVE_BYTES // 100 + 50_000  # history rows are ~110 bytes here
    program = ("import glob, sys, time\nw = sys.stdout.write\n"
               f"for i in range({rows}):\n    w(f'step={{i}} loss={{1 / (i + 1):.6f}} acc={{i % 97}}\\n')\n"
               "sys.stdout.flush()\nend = time.time() + 60\n"
               f"while not glob.glob({str(store)!r} + '/run-*/{digests.DIGEST}') and time.time() < end:\n"
               "    time.sleep(0.2)\n")
    subprocess.run(wbrun_cmd("-q", "--dir", str(store), "--", sys.executable, "-c", program),
                   check=True, stdout=subprocess.DEVNULL)
    [run_dir] = [p for p in store.iterdir() if p.name.startswith("run-")]
    size = os.path.getsize(_history(run_dir))
    assert size >= digests.LIVE_BYTES
    kept = digests._stored(run_dir / digests.DIGEST)
    assert kept is not None and kept.covered >= digests.LIVE_BYTES
    assert kept.covered > size - digests.LIVE_STEP - 5_000_000  # at most a step (and a tick) behind


@pytest.mark.parametrize("smooth", ["1", "200"])
def test_grouped_ui_charts_of_big_histories_come_from_their_digests(tmp_path, monkeypatch, smooth):
    """`/api/groups/history` (the workspace's grouped charts) reads a big history's digest,
    not its every point (it read them all, per member run, before): the band is drawn, the
    per-point cache stays empty, and the mean stays within the members' values."""
    from wandb_cli.store.layout import Store
    from wandb_cli.ui import api, series

    monkeypatch.setattr(series, "BIG_HISTORY_BYTES", 1 << 20)  # these 4.5 MB histories count as big
    for run_id in ("biggrp1", "biggrp2"):
        generate(tmp_path / "wandb", 30_000, run_id=run_id)
    view = api.StoreView(Store(tmp_path / "wandb"))
    answer = api.group_history(view, {"runs": "biggrp1,biggrp2", "group_by": "state",
                                      "smooth": smooth, "max_points": "500"})
    assert view.series._files == {}  # no per-point arrays
    [group] = answer["groups"]
    assert sorted(group["runs"]) == ["biggrp1", "biggrp2"] and "lr" in answer["keys"]
    band = group["series"]["loss"]
    assert 10 <= len(band["x"]) <= 500 and band["x"] == sorted(band["x"])
    assert all(lo <= mean <= hi for lo, mean, hi in zip(band["lo"], band["mean"], band["hi"]))
    assert max(band["mean"]) <= SPIKE and min(band["mean"]) > 0


def test_smoothing_against_a_sparse_axis_keeps_its_points():
    """Found by review: a bucket's smoothed point was dropped where the key's last row in it
    lacked the x key (an epoch logged every few steps); it is drawn at the bucket's last x."""
    digest = digests.Digest()
    digest.add_rows([{"_step": i, "loss": 1.0 + i % 3, **({"epoch": i // 4} if i % 4 == 0 else {})}
                     for i in range(4000)])
    xs, ys, _ = digests.smoothed(digest, "loss", "epoch", 8, 2000)
    assert len(xs) == len(digest.buckets) and xs == sorted(xs) and all(1.0 <= y <= 3.0 for y in ys)
