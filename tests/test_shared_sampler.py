"""SDK-only runs of one program share one sampler process: each run still gets its first
and final sample, the program's memory stays flat, and the sampler ends with the program."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import read_jsonl

PROGRAM = """
import json, os, resource, sys, wandb_cli as w
import psutil
samplers = set()
def loop(n):
    for i in range(n):
        w.init(project="sweep"); w.log({"loss": i}); w.finish()
        samplers.update(p.pid for p in psutil.Process().children()
                        if "wandb_cli.runner.sampler" in " ".join(p.cmdline()))
loop(30)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
loop(int(sys.argv[1]))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"samplers": len(samplers), "grew_kb": after - before,
                  "fds": len(os.listdir("/proc/self/fd"))}))
"""


def test_one_sampler_serves_every_run_of_a_program(store_dir, tmp_path):
    runs = 300
    out = subprocess.run([sys.executable, "-c", PROGRAM, str(runs)], capture_output=True,
                         text=True, timeout=600, env={**os.environ, "WBRUN_SYSTEM": "1"})
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["samplers"] == 1
    assert result["grew_kb"] < 8 * 1024  # flat: not ~25 KB a run
    assert result["fds"] < 20  # no file left open per run
    folders = sorted(store_dir.glob("run-*"))
    assert len(folders) == runs + 30
    for folder in folders:
        events = read_jsonl(folder / "files" / "wandb-events.jsonl")
        assert len(events) == 2, folder  # its first and its final sample
        assert all("system.cpu" in row for row in events)
