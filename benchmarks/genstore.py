"""Generated wbrun stores for the query benchmarks: N finished runs written straight to disk.

Invariant: a generated store is a real store, laid out exactly as docs/store-format.md says
and as a run recorded by the SDK leaves it: each ID claimed with an exclusive create in
`.wbrun/ids/` (through `Store.claim_new_id`, the recorder's own call) and pointed at its
folder, the folder named `run-YYYYMMDD_HHMMSS-<id>` from the local start time (through
`Store.make_run_dir`), `.lock`, the documents encoded by `jsonio` (metadata indented, as
the recorder writes it), history and events as JSONL, the projects' sequence
counters in `.wbrun/seq/`, and `latest-run` pointing at the newest run.  No index is
written: the first `runs ls` builds it.  Generation is deterministic (workload.query_runs).
"""
from __future__ import annotations

import hashlib
import os
import platform
import sys
import time
from pathlib import Path

from benchmarks.workload import query_runs
from wandb_cli._version import __version__
from wandb_cli.store import jsonio
from wandb_cli.store.ids import ADJECTIVES, NOUNS
from wandb_cli.store.layout import CONFIG, EVENTS, FORMAT_VERSION, HISTORY, METADATA, RUN_DOC, SUMMARY, Store

HOST = "bench-host"
USER = "bench"
PROGRAM = "train.py"


def generate(root: Path, count: int, seed: int = 7) -> dict:
    """Write `count` runs into the (new, empty) store `root`; returns what was written,
    with how many runs `val_loss <= 1` matches."""
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty")
    store = Store(root, host=HOST, clock=time.time)
    store.ensure()
    sequences: dict[str, int] = {}
    newest, matches = None, 0
    started = time.perf_counter()
    for spec in query_runs(count, seed):
        sequences[spec["project"]] = sequences.get(spec["project"], 0) + 1
        newest = write_run(store, spec, sequences[spec["project"]])
        matches += spec["history"][-1]["val_loss"] <= 1
    for project, last in sequences.items():
        jsonio.write_bytes_atomic(_seq_path(store, project), str(last).encode())
    if newest is not None:
        store.point_latest(newest)
    return {"runs": count, "seed": seed, "matches_val_loss_le_1": matches,
            "seconds": round(time.perf_counter() - started, 2)}


def _seq_path(store: Store, project: str) -> Path:
    # The same key Store.next_sequence uses, so a later real run continues the numbering.
    key = hashlib.sha256(project.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return store.meta / "seq" / key


def write_run(store: Store, spec: dict, sequence: int) -> Path:
    """One finished run recorded by the SDK, as the recorder would have left it."""
    run_id = store.claim_new_id(spec["id"])
    run_dir = store.make_run_dir(run_id, spec["created"])
    files = os.path.join(run_dir, "files")
    history = spec["history"]
    summary = {k: v for k, v in history[-1].items() if not k.startswith("_")}
    # Whole documents written once into a folder no reader knows yet: the end state of the
    # recorder's write-then-rename, without the renames (they would double the time).
    _put(os.path.join(files, CONFIG), jsonio.dumps(spec["config"]) + b"\n")
    _put(os.path.join(files, SUMMARY), jsonio.dumps(summary) + b"\n")
    _put(os.path.join(files, RUN_DOC), jsonio.dumps(run_doc(spec, run_id, sequence)) + b"\n")
    _put(os.path.join(files, METADATA), _indented(metadata_doc(spec)) + b"\n")
    _put(os.path.join(files, HISTORY), b"".join(jsonio.dumps(row) + b"\n" for row in history))
    _put(os.path.join(files, EVENTS), b"".join(jsonio.dumps(row) + b"\n" for row in events_rows(spec)))
    _put(os.path.join(run_dir, ".lock"), b"")
    store.write_claim(run_id, {"dir": run_dir.name, "status": "live"})
    return run_dir


def _put(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _indented(value: dict) -> bytes:
    import orjson

    return orjson.dumps(value, option=orjson.OPT_INDENT_2)


def run_doc(spec: dict, run_id: str, sequence: int) -> dict:
    """wbrun-run.json of a finished SDK run, keys in the recorder's order."""
    name = f"{ADJECTIVES[sequence % len(ADJECTIVES)]}-{NOUNS[(sequence * 7) % len(NOUNS)]}-{sequence}"
    return {
        "format": FORMAT_VERSION, "id": run_id, "name": name, "sequence": sequence,
        "project": spec["project"], "entity": USER, "group": spec["group"],
        "job_type": spec["job_type"], "tags": spec["tags"], "notes": None,
        "created": spec["created"], "command": _command(spec), "host": HOST,
        "defaulted": ["entity"],
        "state": "finished", "pid": 4242, "pid_start": "123456", "recorder": "sdk",
        "heartbeat": spec["ended"], "exit_code": 0, "ended": spec["ended"],
        "boot_id": "genstore", "monotonic_origin": 0.0,
        "segments": [{"start": spec["created"], "seconds": round(spec["ended"] - spec["created"], 3)}],
        "runtime_origin": spec["created"],
    }


def _command(spec: dict) -> list[str]:
    return [sys.executable, PROGRAM, "--lr", str(spec["config"]["lr"])]


def metadata_doc(spec: dict) -> dict:
    """wandb-metadata.json with the keys metadata.collect writes."""
    command = _command(spec)
    return {
        "command": command, "program": command[0], "args": command[1:],
        "cwd": "/home/bench/project", "host": HOST, "username": USER,
        "os": platform.platform(), "python": platform.python_version(),
        "executable": sys.executable,
        "git": {"commit": "0" * 40, "remote": None, "dirty": False, "branch": "main"},
        "startedAt": spec["created"], "cpu_count": os.cpu_count(),
        "cpu_count_logical": os.cpu_count(), "memory": {"total": 16 * 1024 ** 3},
        "gpu": None, "wbrun_version": __version__, "markers": {},
    }


def events_rows(spec: dict) -> list[dict]:
    """The two system samples an SDK run takes by default (at start and at finish)."""
    rows = []
    for at, cpu in ((0.05, 35.0), (spec["ended"] - spec["created"], 98.5)):
        rows.append({
            "system.proc.cpu.threads": 4, "system.proc.memory.rssMB": 812.5,
            "system.cpu": cpu, "system.memory_percent": 41.2,
            "system.proc.memory.availableMB": 9120.0, "system.proc.memory.percent": 5.1,
            "system.disk./.usagePercent": 22.5, "system.disk./.usageGB": 22.8,
            "system.disk.in": 0.0, "system.disk.out": 1.5, "system.network.sent": 0,
            "system.network.recv": 0, "_runtime": round(at, 3),
            "_timestamp": round(spec["created"] + at, 3),
        })
    return rows

