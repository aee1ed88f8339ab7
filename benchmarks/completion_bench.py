"""How long one Tab takes on a big store: `wbrun __complete` against N runs (default 10,000).

    python benchmarks/completion_bench.py [--runs 10000] [--repeat 7] [--keep DIR]

Builds a store of N finished runs in a temporary folder (run folders, ID claims, the
documents, and the index that `runs ls` would have left), then times the real entry point
(`python -m wandb_cli __complete ...`, a fresh process each time, as a shell runs it) for
run IDs and names, keys and `--sort -` keys, with the index and again without it, beside
`wbrun --version` (the interpreter's own start-up).  Prints the median wall-clock and CPU
time of each.
`build_store` is also what tests/test_cli_completion.py uses for its 10,000-run store.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from wandb_cli.store import jsonio  # noqa: E402
from wandb_cli.store.ids import ADJECTIVES, NOUNS  # noqa: E402
from wandb_cli.store.index import header, index_path  # noqa: E402
from wandb_cli.store.layout import CONFIG, RECORD_FIELDS, RUN_DOC, SUMMARY, index_entry  # noqa: E402

CREATED = 1_700_000_000.0
PROJECTS = ("mnist", "cifar", "imagenet-resnet")


def build_store(root: Path, count: int, *, seed: int = 0,
                documents: bool = True) -> list[tuple[str, str]]:
    """Write `count` finished runs and their index into the new store `root`.

    Each run has its folder (files/ dated an hour back, so the index entry counts as valid),
    its claim in .wbrun/ids/, its three small documents (unless `documents` is false: the
    index then holds the only copy) and an index line, laid out as docs/store-format.md
    says.  Returns the (id, name) of every run."""
    rng = random.Random(seed)
    (root / ".wbrun" / "ids").mkdir(parents=True)
    old_ns = time.time_ns() - 3600 * 10**9
    runs, lines = [], [jsonio.dumps(header(RECORD_FIELDS))]
    for number in range(count):
        run_id = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))
        name = f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}-{number + 1}"
        folder = f"run-{time.strftime('%Y%m%d_%H%M%S', time.localtime(CREATED + number))}-{run_id}"
        raw = _documents(run_id, name, number, rng)
        files = root / folder / "files"
        files.mkdir(parents=True)
        for doc, key in ((RUN_DOC, "run"), (CONFIG, "config"), (SUMMARY, "summary")) * documents:
            (files / doc).write_bytes(jsonio.dumps(raw[key]) + b"\n")
        os.utime(files, ns=(old_ns, old_ns))
        claim = {"dir": folder, "status": "live"}
        (root / ".wbrun" / "ids" / run_id).write_bytes(jsonio.dumps(claim))
        lines.append(jsonio.dumps([folder, old_ns, index_entry(raw, root / folder)]))
        runs.append((run_id, name))
    index_path(root).write_bytes(b"\n".join(lines) + b"\n")
    return runs


def _documents(run_id: str, name: str, number: int, rng: random.Random) -> dict:
    created = CREATED + number
    run = {"format": 1, "id": run_id, "name": name, "sequence": number + 1,
           "project": PROJECTS[number % len(PROJECTS)], "entity": "bench", "group": None,
           "job_type": None, "tags": ["bench"], "notes": None, "created": created,
           "command": ["python", "train.py"], "host": "bench-host", "state": "finished",
           "pid": 4242, "pid_start": "1", "recorder": "wrapper", "heartbeat": created + 60,
           "exit_code": 0, "ended": created + 60, "runtime_origin": created}
    config = {"lr": rng.choice([0.1, 0.01, 0.001]), "batch_size": rng.choice([32, 64, 128]),
              "optimizer": {"name": rng.choice(["adam", "sgd"]), "momentum": 0.9},
              f"extra_{number % 20}": number}
    summary = {"loss": rng.random(), "accuracy": rng.random(), "val/loss": rng.random(),
               "epoch": 10, "_step": 999, "_runtime": 60.0}
    return {"run": run, "config": config, "summary": summary, "problems": []}


def time_command(args: list[str], env: dict, repeat: int) -> tuple[float, float, int]:
    """(median wall s, median CPU s, lines of output) of `python -m wandb_cli ARGS`.

    CPU time (user + system, from the kernel's accounting of the child) stays meaningful
    on a machine that other work keeps busy; wall time is what the user waits."""
    import resource

    walls, cpus, lines = [], [], 0
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "wandb_cli", *args], env=env,
                              capture_output=True, check=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        lines = done.stdout.count(b"\n")
    return statistics.median(walls), statistics.median(cpus), lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="build the store in this new folder, and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch) / "wandb"
        started = time.perf_counter()
        runs = build_store(root, args.runs)
        print(f"built {len(runs)} runs in {time.perf_counter() - started:.1f} s at {root}")
        env = {**os.environ, "WBRUN_DIR": str(root)}
        cases = [("--version", ["--version"]), ("runs ''", ["__complete", "bash", "runs", ""]),
                 (f"runs {runs[0][0][:2]}", ["__complete", "bash", "runs", runs[0][0][:2]]),
                 ("keys ''", ["__complete", "bash", "keys", ""]),
                 ("sort -", ["__complete", "bash", "sort", "-"])]
        _report(cases, env, args.repeat, "with the index")
        index_path(root).unlink()
        _report(cases[1:3], env, args.repeat, "without the index")
    return 0


def _report(cases, env: dict, repeat: int, label: str) -> None:
    print(f"{label}:")
    for title, argv in cases:
        wall, cpu, lines = time_command(argv, env, repeat)
        print(f"  {title:<14} wall {wall * 1000:5.0f} ms  cpu {cpu * 1000:5.0f} ms  ({lines} values)")


if __name__ == "__main__":
    sys.exit(main())
