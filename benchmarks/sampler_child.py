"""The system sampler's CPU cost in a fresh process (run by benchmarks/suite_sampler.py).

    python benchmarks/sampler_child.py STORE INTERVAL_S WINDOW_S on|off

Starts an SDK run (its sampler on or off through WBRUN_SYSTEM, every INTERVAL_S through
WBRUN_SYSTEM_INTERVAL) whose process tree holds this process and two sleeping children,
waits for the first sample, then idles WINDOW_S seconds and reports the CPU time that this
process and its descendants used meanwhile (the run's ticker thread, and the sampler,
whether a thread or a process of its own) and the samples written.  The caller subtracts
the `off` run's CPU to leave the sampler's own.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time


def cpu_s() -> float:
    """CPU seconds of this process and its live descendants, wherever the sampler runs (a
    thread here, or a process of its own); theirs from /proc, in clock ticks (10 ms)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    total = usage.ru_utime + usage.ru_stime
    for pid in descendants(os.getpid()):
        fields = stat_fields(pid)
        if fields is not None:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def stat_fields(pid: int) -> list[bytes] | None:
    """/proc/PID/stat after the command name: [state, ppid, ..., utime (11), stime (12)]."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def descendants(root: int) -> list[int]:
    parent = {}
    for name in os.listdir("/proc"):
        fields = stat_fields(int(name)) if name.isdigit() else None
        if fields is not None:
            parent[int(name)] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        frontier = [pid for pid, ppid in parent.items() if ppid in frontier]
        found += frontier
    return found


def lines(path: str) -> int:
    try:
        with open(path, "rb") as fh:
            return fh.read().count(b"\n")
    except FileNotFoundError:
        return 0


def main() -> None:
    store, interval, window, mode = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    os.environ.update(WBRUN_SYSTEM="1" if mode == "on" else "0", WBRUN_SYSTEM_INTERVAL=interval)
    children = [subprocess.Popen(["sleep", str(window + 30)]) for _ in range(2)]
    try:
        import wandb_cli as wandb

        cpu_start = cpu_s()
        run = wandb.init(project="sampler", dir=store)
        events = os.path.join(run.dir, "wandb-events.jsonl")
        while mode == "on" and lines(events) < 1:
            time.sleep(0.002)
        cpu_first, first_samples = cpu_s(), lines(events)
        wall_start = time.perf_counter()
        time.sleep(window)
        cpu_end, wall = cpu_s(), time.perf_counter() - wall_start
        samples = lines(events) - first_samples
        run.finish()
    finally:
        for child in children:
            child.kill()
            child.wait()
    print(json.dumps({"start_cpu_s": cpu_first - cpu_start, "window_cpu_s": cpu_end - cpu_first,
                      "window_s": wall, "samples": samples}))


if __name__ == "__main__":
    main()
