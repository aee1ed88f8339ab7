"""One finished run with a long history (default 5,000,000 steps), written straight to disk
for the big-history benchmarks and tests.

Invariant: a real store (the run made by the recorder's own calls, `start_run` and
`finish`), whose history is what a training loop logging workload.step_values-like values
leaves (rows as the recorder makes them, `history_row`): `_step` 0..N-1, `_runtime`,
`_timestamp`, five metrics, and a spike (loss 1000.0)
at step N*2/3 so downsampling can be checked to keep it.  Deterministic for a given N.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import orjson

from wandb_cli.store.layout import HISTORY, Store
from wandb_cli.store.model import FINISHED
from wandb_cli.store.recorder import RunSpec, history_row, start_run

BLOCK = 100_000
SPIKE = 1000.0


def rows(start: int, stop: int, steps: int) -> list[dict]:
    out = []
    for i in range(start, stop):
        progress = i / max(steps - 1, 1)
        loss = round(2.3 * math.exp(-3.0 * progress) + 0.05 * ((i * 7919) % 1000) / 1000, 4)
        out.append(history_row({"loss": SPIKE if i == steps * 2 // 3 else loss,
                                "val_loss": round(loss * 1.07, 4), "accuracy": round(1 - loss / 2.5, 4),
                                "lr": round(0.0005 * (1 + math.cos(math.pi * progress)), 8),
                                "grad_norm": round(0.5 + ((i * 104729) % 2000) / 1000, 4)},
                               i, round(i * 0.01, 3), round(1_750_000_000 + i * 0.01, 3)))
    return out


def generate(root: Path, steps: int, run_id: str = "bighist1") -> Path:
    store = Store(Path(root))
    live = start_run(store, RunSpec(project="big", id=run_id, name="big-history"), pid=0,
                     recorder="sdk")
    with open(live.paths.file(HISTORY), "ab") as fh:
        for start in range(0, steps, BLOCK):
            block = rows(start, min(steps, start + BLOCK), steps)
            fh.write(orjson.dumps(block)[1:-1].replace(b"},{", b"}\n{") + b"\n")
            live.set_summary("loss", block[-1]["loss"])
    live.finish(FINISHED, 0)
    return live.paths.dir


if __name__ == "__main__":
    print(generate(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 5_000_000))
