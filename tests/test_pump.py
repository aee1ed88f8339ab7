"""The output pump in bulk: output.log complete and collapsed, long lines whole, printed
metrics batched but every step on disk and visible while the run goes."""
from __future__ import annotations

import hashlib
import json
import mmap
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import wbrun_cmd
from wandb_cli.runner.capture import (
    _PLAIN_BLOCK,
    MAX_PARTIAL,
    OutputRecorder,
    collapse,
    collapse_block,
    metric_lines,
    parse_metrics,
)
from wandb_cli.store.jsonio import AppendFile

LINE_PARTS = ["loss=0.5", "acc: 1", " ", "\t", ",", "x", "=", ":", "1e5", "nan", "-inf", "+3",
              ".5", "1.", "a/b", "é", "\x1b[32m", "\x1b[0m", "\x1c", "\xa0", "url=http://x",
              "12:30", "k", "_k", "0", "\r", "progress 50%", "007", "-0", "1e400", "1E3",
              "123456789012345678901234", "2.50", "INFO: x"]
lines_strategy = st.lists(st.lists(st.sampled_from(LINE_PARTS), max_size=8).map("".join),
                          max_size=12)


@settings(max_examples=400, deadline=None)
@given(lines_strategy)
def test_bulk_metric_lines_agree_with_the_line_rule(lines):
    block = b"".join(collapse(line.encode()) + b"\n" for line in lines)
    expected = [m for m in (parse_metrics(line) for line in block.split(b"\n")[:-1]) if m]
    assert _comparable(metric_lines(block)) == _comparable(expected)


PAIRS = ["loss=0.5", "acc: 1", "lr = 1e-05", "a/b.c-d:-2.5E3", "x=nan", "y=-inf", "_k=+3", "n=007",
         "big=123456789012345678901234", "z=.5", "w=1.", "s: -0", "neg=-9223372036854775809",
         "min=-9223372036854775808"]
plain_lines = st.lists(st.lists(st.sampled_from(PAIRS), min_size=1, max_size=5).flatmap(
    lambda pairs: st.sampled_from([" ", ", ", ",", "\t", "  ,  "]).map(lambda sep: sep.join(pairs))),
    min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(plain_lines, st.sampled_from(["", " ", "\t"]))
def test_blocks_of_plain_metric_lines_read_in_bulk_agree_with_the_line_rule(lines, lead):
    """Every line a plain metric line (the bulk path): the same metrics, of the same types."""
    block = b"".join((lead + line).encode() + b"\n" for line in lines)
    expected = [parse_metrics(line) for line in block.split(b"\n")[:-1]]
    assert all(expected) and _PLAIN_BLOCK.fullmatch(block)
    assert _comparable(metric_lines(block)) == _comparable(expected)


@settings(max_examples=300, deadline=None)
@given(lines_strategy)
def test_bulk_collapse_agrees_with_collapse(lines):
    block = b"".join(line.encode() + b"\n" for line in lines)
    assert collapse_block(block) == b"".join(collapse(line.encode()) + b"\n" for line in lines)


def _comparable(found: list[dict]) -> list:
    return [{k: (type(v), "nan" if v != v else v) for k, v in m.items()} for m in found]


@settings(max_examples=60, deadline=None)
@given(lines_strategy, st.lists(st.integers(1, 40), min_size=1, max_size=20))
def test_any_chunking_gives_the_same_log_and_metrics(tmp_path_factory, lines, cuts):
    data = "\n".join(lines).encode()
    whole_log, whole_metrics = _record(tmp_path_factory.mktemp("a"), [data])
    chunks, pos = [], 0
    for size in cuts * (len(data) // max(sum(cuts), 1) + 1):
        chunks.append(data[pos:pos + size])
        pos += size
    chunks.append(data[pos:])
    log, metrics = _record(tmp_path_factory.mktemp("b"), chunks)
    assert log == whole_log
    assert _comparable(metrics) == _comparable(whole_metrics)


def _record(folder: Path, chunks: list[bytes]) -> tuple[bytes, list[dict]]:
    found: list[dict] = []
    log = AppendFile(folder / "output.log")
    stream = OutputRecorder(log, found.extend).stream()
    for chunk in chunks:
        stream.feed(chunk)
    stream.close()
    log.close()
    return (folder / "output.log").read_bytes(), found


def test_a_line_longer_than_the_buffer_is_one_line(tmp_path):
    line = b"".join(b"%07d" % i for i in range(MAX_PARTIAL // 2))  # 3.5 x MAX_PARTIAL
    log, _ = _record(tmp_path, [line[i:i + 65536] for i in range(0, len(line), 65536)]
                     + [b"\nnext\n"])
    assert log == line + b"\nnext\n"


@pytest.mark.parametrize("long_line", [b"x" * 400_000, "é".encode() * 200_000,
                                       b"\x1b[1m" * 80_000, b"a" * 400_000 + b" b"])
def test_long_lines_beside_redraws_and_metrics_cost_linear_time(long_line):
    """A block with a long plain line and a redraw or metric line elsewhere: scanning it
    once per position would take hours (these blocks hung the pump before)."""
    block = long_line + b"\nprogress 1%\rprogress 2%\nloss=0.5\n"
    assert collapse_block(block) == long_line + b"\nprogress 2%\nloss=0.5\n"
    assert metric_lines(collapse_block(block)) == [{"loss": 0.5}]


def _run_dir(store: Path) -> Path:
    return (store / "latest-run").resolve()


def test_pipe_mode_keeps_every_byte_and_long_lines_whole(store_dir, tmp_path):
    """300,000 short lines, a 1,000,000-character line, redraws and metric lines, through
    a real wbrun: stdout byte for byte, output.log collapsed and complete."""
    script = tmp_path / "emit.py"
    script.write_text(
        "import sys\nw = sys.stdout.buffer.write\n"
        "for i in range(300_000): w(b'line %d\\n' % i)\n"
        "w(b'x' * 1_000_000 + b'\\n')\n"
        "for i in range(5): w(b'\\rprogress %d%%' % (i * 25))\n"
        "w(b'\\n')\n"
        "for i in range(3000): w(b'step=%d loss=%f\\n' % (i, 1 / (i + 1)))\n")
    result = subprocess.run(wbrun_cmd("-q", "--", sys.executable, str(script)),
                            capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr
    bare = subprocess.run([sys.executable, str(script)], capture_output=True).stdout
    assert hashlib.sha256(result.stdout).digest() == hashlib.sha256(bare).digest()
    log = (_run_dir(store_dir) / "files" / "output.log").read_bytes()
    assert log == collapse_block(bare)
    shown = subprocess.run(wbrun_cmd("runs", "logs", "latest"), capture_output=True).stdout
    assert b"\n" + b"x" * 1_000_000 + b"\n" in shown
    history = (_run_dir(store_dir) / "files" / "wandb-history.jsonl").read_text().splitlines()
    assert [json.loads(row)["step"] for row in history] == list(range(3000))
    summary = json.loads((_run_dir(store_dir) / "files" / "wandb-summary.json").read_text())
    assert summary == {"step": 2999, "loss": 0.000333}


def test_pty_mode_keeps_every_byte(store_dir, tmp_path):
    """Under a real pseudo-terminal: output.log holds the lines without their CR LF ends."""
    import pty

    script = tmp_path / "emit.py"
    script.write_text("import sys\nw = sys.stdout.buffer.write\n"
                      "for i in range(200_000): w(b'row %d\\n' % i)\n"
                      "w(b'y' * 300_000 + b'\\n')\nw(b'loss=1.5\\n')\n")
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover - the child execs
        os.execv(sys.executable, wbrun_cmd("-q", "--", sys.executable, str(script)))
    seen = hashlib.sha256()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen.update(chunk)
    _, status = os.waitpid(pid, 0)
    os.close(master)
    assert os.waitstatus_to_exitcode(status) == 0
    expected = b"".join(b"row %d\n" % i for i in range(200_000)) + b"y" * 300_000 + b"\nloss=1.5\n"
    assert seen.digest() == hashlib.sha256(expected.replace(b"\n", b"\r\n")).digest()
    assert (_run_dir(store_dir) / "files" / "output.log").read_bytes() == expected
    summary = json.loads((_run_dir(store_dir) / "files" / "wandb-summary.json").read_text())
    assert summary == {"loss": 1.5}


def test_printed_steps_are_visible_while_the_run_goes(store_dir, tmp_path):
    """Steps printed, then a pause: `runs history` and the summary show them within ~1 s,
    long before the command ends."""
    script = tmp_path / "slow.py"
    script.write_text("import sys, time\n"
                      "for i in range(500): print(f'step={i} loss={i / 10}')\n"
                      "sys.stdout.flush()\ntime.sleep(30)\n")
    child = subprocess.Popen(wbrun_cmd("-q", "--", sys.executable, str(script)),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        rows: list = []
        summary: dict = {}
        while time.monotonic() < deadline and (len(rows) < 500 or summary.get("step") != 499):
            time.sleep(0.3)
            out = subprocess.run(wbrun_cmd("runs", "history", "latest", "--format", "json"),
                                 capture_output=True, text=True)
            rows = json.loads(out.stdout) if out.returncode == 0 else []
            shown = subprocess.run(wbrun_cmd("runs", "show", "latest", "--format", "json"),
                                   capture_output=True, text=True)
            summary = json.loads(shown.stdout).get("summary", {}) if shown.returncode == 0 else {}
        assert child.poll() is None, "the command ended before its steps were checked"
        assert [row["step"] for row in rows] == list(range(500))
        assert summary.get("step") == 499
    finally:
        child.terminate()
        child.wait(timeout=30)


printed_steps = st.lists(st.dictionaries(
    st.sampled_from(["loss", "acc", "a/b.c-d", "_k", "step", "lr", "null", "_step", "_runtime"]),
    st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True)),
    min_size=0, max_size=5), min_size=1, max_size=20)


@settings(max_examples=300, deadline=None)
@given(printed_steps, st.one_of(st.integers(0, 10**7), st.integers(2**63 - 30, 2**64 + 5)),
       st.one_of(st.floats(0, 1e6), st.sampled_from([float("nan"), float("inf"), 1e-05, 2**70])),
       st.one_of(st.floats(1.7e9, 1.8e9), st.sampled_from([float("nan"), 2**70])))
def test_printed_steps_spliced_into_lines_equal_the_rows_encoded(batch, step, runtime, stamp):
    """encode_printed (lines joined in C) writes what building each row and encoding writes;
    it declines only for NaN, huge integers, empty or _step-bearing steps (and clocks or
    steps no run has: found by review)."""
    from wandb_cli.store.layout import HISTORY_KEYS
    from wandb_cli.store.recorder import encode_printed, encode_rows, history_row

    runtime, stamp = round(runtime, 3), round(stamp, 3)
    if not all(isinstance(v, float) and v == v and abs(v) != float("inf") for v in (runtime, stamp)) \
            or step + len(batch) > 2**63:
        assert encode_printed(batch, step, runtime, stamp) is None
        return
    expected = encode_rows([history_row(m, step + i, runtime, stamp) for i, m in enumerate(batch)])
    got = encode_printed(batch, step, runtime, stamp)
    plain = all(m and all(isinstance(v, float) and v == v and abs(v) != float("inf") or
                          isinstance(v, int) and -2**63 <= v < 2**64 for v in m.values())
                for m in batch)
    if plain and not any(k in HISTORY_KEYS or k == "null" for m in batch for k in m):
        assert got is not None
    assert got is None or got == expected
    assert [json.loads(line) for line in expected.splitlines()][0]["_step"] == step


def _resident_pages(path: Path, upto: int | None = None) -> int:
    """How many of a file's pages (of its first `upto` bytes) are in the page cache
    (mincore(2) over a private map of it)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        mapped = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_COPY)
    try:
        pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
        vector = ctypes.create_string_buffer(pages)
        start = ctypes.c_char.from_buffer(mapped)  # (an export of the map: released below)
        try:
            if libc.mincore(ctypes.addressof(start), size, vector) != 0:
                raise OSError(ctypes.get_errno(), "mincore")
        finally:
            del start
        counted = vector.raw if upto is None else vector.raw[:upto // mmap.PAGESIZE]
        return sum(byte & 1 for byte in counted)
    finally:
        mapped.close()


def _page_cache_obeys_advice(folder: Path) -> bool:
    """Whether a file written here is cached, and dropped once written back and advised so
    (not so on tmpfs, ZFS or a FUSE file system with direct I/O)."""
    probe = folder / "probe"
    probe.write_bytes(b"p" * (1 << 20))
    pages = (1 << 20) // mmap.PAGESIZE
    with open(probe, "rb+") as fh:
        if _resident_pages(probe) < pages:
            return False
        os.fsync(fh.fileno())
        os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    return _resident_pages(probe) <= pages // 16


@pytest.mark.skipif(not hasattr(os, "posix_fadvise") or not sys.platform.startswith("linux"),
                    reason="page-cache advice and mincore are Linux's")
def test_a_flooded_log_leaves_the_page_cache_once_written_back(tmp_path):
    """AppendFile(cache_window=) gives the advice after each window on a local disk: pages
    written back by then are dropped, and the bytes on disk are the same."""
    if os.major(os.stat(tmp_path).st_dev) == 0 or not _page_cache_obeys_advice(tmp_path):
        pytest.skip("the temporary folder is not on a local disk whose page cache obeys advice")
    chunk = b"".join(b"line %06d\n" % i for i in range(6000))  # 72 kB
    for window, expect_dropped in ((1 << 20, True), (0, False)):
        path = tmp_path / f"output-{window}.log"
        log = AppendFile(path, cache_window=window)
        for _ in range(64):
            log.write_bytes(chunk)
        os.fsync(log.fd)  # all clean now: the next advice may drop every page so far
        for _ in range(16):
            log.write_bytes(chunk)  # one more window
        synced_pages = len(chunk) * 64 // mmap.PAGESIZE
        kept = _resident_pages(path, upto=len(chunk) * 64)
        log.close()
        assert path.read_bytes() == chunk * 80
        if expect_dropped:
            assert kept <= synced_pages // 20, (synced_pages, kept)
        else:  # (most: memory pressure may take a few clean pages meanwhile)
            assert kept >= synced_pages * 9 // 10, (synced_pages, kept)


@pytest.mark.skipif(not os.path.isdir("/dev/shm") or not hasattr(os, "posix_fadvise"),
                    reason="needs a tmpfs at /dev/shm")
def test_no_advice_off_a_local_disk(tmp_path):
    """On a file system of no block device (tmpfs here; NFS, Lustre, FUSE, overlay alike)
    the log gives no advice: writeback there may block on the network."""
    import tempfile

    with tempfile.TemporaryDirectory(dir="/dev/shm") as folder:
        log = AppendFile(Path(folder) / "output.log", cache_window=1 << 20)
        try:
            assert log.window == 0
        finally:
            log.close()
    log = AppendFile(tmp_path / "output.log", cache_window=1 << 20)
    log.close()
    assert log.window == (1 << 20 if os.major(os.stat(tmp_path).st_dev) else 0)


def test_a_flood_through_wbrun_keeps_every_byte(store_dir):
    """30 MB of `yes` in pipe mode: several cache windows of output.log, and stdout and the
    log equal the bare output."""
    command = "yes 'a line of output' | head -c 30000000"
    result = subprocess.run(wbrun_cmd("-q", "--", "sh", "-c", command), capture_output=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    bare = subprocess.run(["sh", "-c", command], capture_output=True, timeout=300).stdout
    assert len(bare) == 30_000_000
    assert hashlib.sha256(result.stdout).digest() == hashlib.sha256(bare).digest()
    log = _run_dir(store_dir) / "files" / "output.log"
    assert hashlib.sha256(log.read_bytes()).digest() == hashlib.sha256(bare + b"\n").digest()
