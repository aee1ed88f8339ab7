"""One SDK logging measurement in a fresh process (run by benchmarks/suite_sdk.py).

    python benchmarks/sdk_child.py STORE STEPS VARIANT

Imports wandb_cli, init()s a run in STORE, lets init's background work settle (1 s, not
timed), log()s STEPS steps of five floats (one call per step, values from
workload.step_values, built before the clock starts), then, before
finish(), counts the lines already in wandb-history.jsonl through a separate file handle:
a line still buffered in the process would be missing from that count.  Prints one JSON
object: the phases' seconds, the lines found, the history bytes.
"""
from __future__ import annotations

import json
import os
import sys
import time

from workload import step_values

SETTLE_S = 1.0


def settle(files: str) -> None:
    """Let init()'s one-off background work end before timing log(): the metadata thread
    (git, platform, NVML probe) and the first system sample (imports psutil).  Logging goes
    on for hours in a real run; the peers get the same pause (peer_child.SETTLE_S)."""
    time.sleep(SETTLE_S)
    deadline = time.monotonic() + 10
    while not os.path.exists(os.path.join(files, "wandb-metadata.json")):
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)


def main() -> None:
    store, steps, variant = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    values = step_values(variant, steps)
    t_values = time.perf_counter()
    import wandb_cli as wandb

    init = wandb.init  # the SDK module loads on first use: count it as importing
    t_import = time.perf_counter()
    run = init(project="bench", dir=store, config={"lr": 0.001, "batch_size": 256})
    t_init = time.perf_counter()
    settle(run.dir)
    t_start = time.perf_counter()
    log = run.log
    for row in values:
        log(row)
    t_log = time.perf_counter()
    history = os.path.join(run.dir, "wandb-history.jsonl")
    with open(history, "rb") as fh:
        lines_before_finish = fh.read().count(b"\n")
    t_check = time.perf_counter()
    run.finish()
    t_finish = time.perf_counter()
    print(json.dumps({
        "import_s": t_import - t_values, "init_s": t_init - t_import, "log_s": t_log - t_start,
        "finish_s": t_finish - t_check, "steps": steps,
        "lines_before_finish": lines_before_finish,
        "history_bytes": os.path.getsize(history), "settle_s": SETTLE_S,
    }))


if __name__ == "__main__":
    main()
