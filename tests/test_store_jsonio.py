"""jsonio: the tail reader on rows longer than its first read, and documents holding
undecodable bytes (lone surrogates), at library level and through real runs."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import read_jsonl, wbrun_cmd

from wandb_cli.store import jsonio

LONG = {"hist": list(range(20000))}  # one row of about 110 KiB, beyond a 64 KiB tail


def write_lines(path: Path, *lines: bytes) -> Path:
    path.write_bytes(b"".join(lines))
    return path


def row(value: dict) -> bytes:
    return jsonio.dumps(value) + b"\n"


@pytest.mark.parametrize("chunk", [65536, 16, 1])
def test_last_row_longer_than_the_tail(tmp_path, chunk):
    path = write_lines(tmp_path / "h.jsonl", row({"_step": 0}), row({"_step": 1, **LONG}))
    assert jsonio.last_jsonl_row(path, chunk=chunk) == {"_step": 1, **LONG}


@pytest.mark.parametrize("chunk", [65536, 16])
def test_a_long_torn_last_line_is_skipped(tmp_path, chunk):
    torn = row({"_step": 2, **LONG})[:-1000]
    path = write_lines(tmp_path / "h.jsonl", row({"_step": 0}), row({"_step": 1}), torn)
    assert jsonio.last_jsonl_row(path, chunk=chunk) == {"_step": 1}


def test_a_short_torn_line_after_a_long_row(tmp_path):
    path = write_lines(tmp_path / "h.jsonl", row({"_step": 0, **LONG}), b'{"_step": 1, "x')
    assert jsonio.last_jsonl_row(path) == {"_step": 0, **LONG}


def test_no_complete_row_at_all(tmp_path):
    assert jsonio.last_jsonl_row(tmp_path / "missing.jsonl") is None
    path = write_lines(tmp_path / "h.jsonl", row(LONG)[:-5000])
    assert jsonio.last_jsonl_row(path) is None
    assert jsonio.last_jsonl_row(write_lines(tmp_path / "e.jsonl")) is None


def test_resume_after_a_long_row_continues_the_steps(store_dir):
    def run_py(code: str) -> None:
        subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True, timeout=60,
                       capture_output=True)
    run_py(f"""
        import wandb_cli as w
        r = w.init(id="long0001")
        for i in range(3):
            r.log({{"i": i}})
        r.log({LONG!r})
        r.finish()
    """)
    run_py("import wandb_cli as w; r = w.init(id='long0001', resume='allow'); r.log({'i': 4}); r.finish()")
    [history] = store_dir.rglob("wandb-history.jsonl")
    assert [r["_step"] for r in read_jsonl(history)] == [0, 1, 2, 3, 4]


CAFE = "caf" + os.fsdecode(b"\xe9")  # 'caf\udce9': Latin-1 bytes read with surrogateescape


def test_indented_document_with_lone_surrogates(tmp_path):
    doc = {"command": ["echo", CAFE], "nested": {CAFE: [1, 2.5, None, True]}}
    path = tmp_path / "m.json"
    jsonio.write_json_atomic(path, doc, indent=True)
    assert jsonio.read_json(path) == doc
    assert b'\n  "command": [\n' in path.read_bytes()  # still indented


def test_indented_document_with_nan_and_a_surrogate(tmp_path):
    path = tmp_path / "m.json"
    jsonio.write_json_atomic(path, {"x": math.nan, "y": math.inf, "s": CAFE}, indent=True)
    back = jsonio.read_json(path)
    assert math.isnan(back["x"]) and back["y"] == math.inf and back["s"] == CAFE


def test_indented_unserializable_value_is_a_type_error(tmp_path):
    with pytest.raises(TypeError):
        jsonio.write_json_atomic(tmp_path / "m.json", {"s": CAFE, "o": object()}, indent=True)


def test_wrapping_a_command_with_undecodable_bytes(store_dir):
    argv = [os.fsencode(part) for part in wbrun_cmd("-q", "--", "echo")] + [b"caf\xe9"]
    result = subprocess.run(argv, capture_output=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout == b"caf\xe9\n"
    assert result.stderr == b""
    [meta] = store_dir.rglob("wandb-metadata.json")
    assert jsonio.read_json(meta)["command"][-2:] == ["echo", CAFE]
