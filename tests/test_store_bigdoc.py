"""A config or summary over the listing limit (store/bigdoc.py): kept out of the index,
listed and shown truncated, the file left whole; the streaming reader agrees with a whole
parse on every value it keeps, wherever the chunk boundaries fall."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import wbrun_cmd
from tests.helpers import PEAK_PROBE, record_run
from wandb_cli.store import bigdoc
from wandb_cli.store.index import index_path

AWKWARD = {
    "lr": 0.1,
    "quote\"key\\": "a\"b\\c",
    "brackets": "}]],{[",
    "nested": {"a": [1, {"b": "}"}], "c": {}},
    "unicode": "é\u2028✓",
    "emb": [[i / 7, -i] for i in range(40_000)],
    "long_text": "x" * (bigdoc.VALUE_LIMIT + 10),
    "empty": [],
    "tail": None,
}


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
@pytest.mark.parametrize("indent", [None, 2])
def test_streamed_keys_equal_a_whole_parse(tmp_path, monkeypatch, chunk, indent):
    monkeypatch.setattr(bigdoc, "CHUNK", chunk)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(AWKWARD, indent=indent, ensure_ascii=indent is None))
    size = path.stat().st_size
    assert size > bigdoc.DOC_LIMIT
    doc, seen = bigdoc.read_capped(path)
    assert seen == size
    assert list(doc) == list(AWKWARD)
    for key, value in AWKWARD.items():
        if len(json.dumps(value, indent=indent)) <= bigdoc.VALUE_LIMIT:
            assert doc[key] == value, key
        else:
            assert doc[key].startswith("<") and doc[key].endswith("of JSON, truncated>"), doc[key]


def test_small_documents_parse_whole_and_corruption_is_an_error(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"a": "x" * 5000}))
    assert bigdoc.read_capped(path) == ({"a": "x" * 5000}, None)
    assert bigdoc.read_capped(tmp_path / "missing.json", {}) == ({}, None)
    path.write_text('{"a": [' + "1," * bigdoc.DOC_LIMIT)  # cut off: no end
    with pytest.raises(ValueError):
        bigdoc.read_capped(path)
    path.write_text("[" + "1," * bigdoc.DOC_LIMIT + "1]")  # not an object
    assert bigdoc.read_capped(path)[0] is None


def _store_with_big_config(tmp_path, mb: int) -> tuple:
    store = tmp_path / "wandb"
    small = record_run(store, name="small-run", config={"lr": 0.5})
    big = record_run(store, name="big-run", config={"lr": 0.01, "opt": "adam"},
                     metrics=[{"loss": 0.3}])
    config = next(store.glob(f"run-*-{big}")) / "files" / "config.json"
    with open(config, "wb") as fh:  # an embedding table in the config: mb MB of numbers
        fh.write(b'{"lr": 0.01, "opt": "adam", "table": [')
        row = b"[" + b",".join(b"%.6f" % (i / 7) for i in range(1000)) + b"]"
        for _ in range(mb * 1_000_000 // len(row)):
            fh.write(row + b",")
        fh.write(b'[0]], "seed": 7}')
    old = time.time() - 60  # older than the index's racy window, so the index keeps them
    for files in store.glob("run-*/files"):
        os.utime(files, (old, old))
    return store, small, big, config


def test_a_big_config_is_listed_truncated_and_kept_out_of_the_index(tmp_path):
    store, small, big, config = _store_with_big_config(tmp_path, 30)
    size = config.stat().st_size
    probe = tmp_path / "probe.py"
    probe.write_text(PEAK_PROBE)
    peak = tmp_path / "peak_kb"
    out = subprocess.run([sys.executable, str(probe), str(peak), "runs", "ls", "--format", "json",
                          "--filter", "config.lr < 0.1", "--dir", str(store)],
                         capture_output=True, text=True, check=True)
    assert int(peak.read_text()) < 120 * 1024  # the 30 MB document was streamed, not parsed
    (run,) = json.loads(out.stdout)
    assert run["id"] == big
    assert run["config"]["opt"] == "adam" and run["config"]["seed"] == 7
    assert run["config"]["table"].endswith("MiB of JSON, truncated>")
    assert run["oversize"] == {"config.json": size}
    # the index holds the truncated form: its whole file is a few KB, not 30 MB
    assert index_path(store).stat().st_size < 64 * 1024
    shown = subprocess.run(wbrun_cmd("runs", "show", big, "--dir", str(store)),
                           capture_output=True, text=True, check=True).stdout
    assert "config.json is" in shown and "files/config.json" in shown and "truncated" in shown
    # the file itself is untouched
    assert config.stat().st_size == size
    assert json.loads(config.read_bytes())["seed"] == 7
    both = subprocess.run(wbrun_cmd("runs", "ls", "--format", "ids", "--dir", str(store)),
                          capture_output=True, text=True, check=True).stdout.split()
    assert sorted(both) == sorted([small, big])


def test_a_big_summary_is_shown_truncated_and_synced_whole(tmp_path):
    """The summary side, written by the SDK itself (a long list under one key), and the
    export reading the whole document back (sync.source.whole_documents)."""
    from wandb_cli.store.layout import Store
    from wandb_cli.sync.source import whole_documents

    store = tmp_path / "wandb"
    script = ("import wandb_cli as wandb\n"
              "run = wandb.init(project='p', name='sum-run')\n"
              "run.log({'loss': 0.5})\n"
              "run.summary['words'] = ['w%d' % i for i in range(200_000)]\n"
              "run.finish()\n")
    subprocess.run([sys.executable, "-c", script], check=True, env={**os.environ, "WBRUN_DIR": str(store),
                                                                      "WBRUN_SYSTEM": "0"})
    record = next(Store(store).iter_runs())
    assert record.summary["loss"] == 0.5
    assert record.summary["words"].endswith("of JSON, truncated>")
    assert set(record.oversize) == {"wandb-summary.json"}
    config, summary = whole_documents(record)
    assert len(summary["words"]) == 200_000 and summary["loss"] == 0.5
    shown = subprocess.run(wbrun_cmd("runs", "show", record.id, "--dir", str(store)),
                           capture_output=True, text=True, check=True).stdout
    assert "wandb-summary.json is" in shown
