"""The benchmark's workloads, as plain data: what is logged per step, and the runs of the
generated query stores.

Invariant: everything here is a pure function of its arguments (a seeded `random.Random`,
never the clock or a global generator), and it imports only the standard library, so the
peers' interpreters (wandb, MLflow) load the very same values as wbrun's.

Logged steps: five floats per step, keys `loss`, `val_loss`, `accuracy`, `lr`, `grad_norm`.
  - "typical": what a training script usually hands over: losses and grad norm rounded to 4
    decimals, accuracy as correct/total over a 256-sample batch, a cosine learning rate to 6
    significant digits, e.g. {"loss": 0.4821, "val_loss": 0.5137, "accuracy": 0.8125,
    "lr": 0.000999876, "grad_norm": 1.2346}.
  - "full": the same keys holding full-precision doubles (random.random()), each needing
    about 19 characters in JSON: the worst case for bytes per step.

Query-store runs: 5 config keys, 5 summary metrics (the last of 10 history steps), spread
over 4 projects and 20 groups; the final `val_loss` is uniform in [0.2, 3.0], so about
28.6 % of runs match `val_loss <= 1`.
"""
from __future__ import annotations

import math
import random
from typing import Iterator

STEP_KEYS = ("loss", "val_loss", "accuracy", "lr", "grad_norm")
VARIANTS = ("typical", "full")
RUN_METRICS = ("loss", "val_loss", "accuracy", "val_accuracy", "grad_norm")
HISTORY_STEPS = 10
PROJECTS = ("vision", "speech", "nlp", "rl")
GROUPS = tuple(f"sweep-{i:02d}" for i in range(20))
TAGS = ("baseline", "augment", "large", "small", "ablation")
ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
EPOCH = 1_750_000_000.0  # the generated runs end before this POSIX time (June 2025)
SPREAD_S = 90 * 86400.0


def step_values(variant: str, steps: int, seed: int = 1) -> list[dict]:
    """The `steps` dicts a training loop logs, one per step (see the module docstring)."""
    rng = random.Random(seed)
    if variant == "full":
        return [{key: rng.random() for key in STEP_KEYS} for _ in range(steps)]
    if variant != "typical":
        raise ValueError(f"unknown variant {variant!r}")
    out = []
    for i in range(steps):
        progress = i / max(steps - 1, 1)
        loss = 2.3 * math.exp(-3.0 * progress) + 0.05 * rng.random()
        out.append({
            "loss": round(loss, 4),
            "val_loss": round(loss * (1.05 + 0.1 * rng.random()), 4),
            "accuracy": min(256, max(0, round(256 * (1 - loss / 2.5) + rng.uniform(-8, 8)))) / 256,
            "lr": float(f"{0.0005 * (1 + math.cos(math.pi * progress)):.6g}"),
            "grad_norm": round(0.5 + 2.0 * rng.random(), 4),
        })
    return out


def query_runs(count: int, seed: int = 7) -> Iterator[dict]:
    """`count` finished runs, oldest first: id, project, group, tags, times, config, history."""
    rng = random.Random(seed)
    created = sorted(EPOCH - SPREAD_S * rng.random() for _ in range(count))
    seen: set[str] = set()
    for start in created:
        run_id = _fresh_id(rng, seen)
        runtime = rng.uniform(60.0, 36000.0)
        yield {
            "id": run_id, "project": rng.choice(PROJECTS), "group": rng.choice(GROUPS),
            "job_type": "train", "tags": sorted(rng.sample(TAGS, rng.randrange(3))),
            "created": round(start, 6), "ended": round(start + runtime, 6),
            "config": _config(rng), "history": _history(rng, start, runtime),
        }


def _fresh_id(rng: random.Random, seen: set[str]) -> str:
    while True:
        run_id = "".join(rng.choice(ID_ALPHABET) for _ in range(8))
        if run_id not in seen:
            seen.add(run_id)
            return run_id


def _config(rng: random.Random) -> dict:
    return {
        "lr": rng.choice((0.1, 0.03, 0.01, 0.003, 0.001, 0.0003)),
        "batch_size": rng.choice((32, 64, 128, 256)),
        "optimizer": rng.choice(("adam", "sgd", "adamw")),
        "dropout": rng.choice((0.0, 0.1, 0.2, 0.3, 0.5)),
        "epochs": rng.choice((10, 20, 50, 100)),
    }


def _history(rng: random.Random, start: float, runtime: float) -> list[dict]:
    final_val = rng.uniform(0.2, 3.0)
    first_val = final_val + rng.uniform(0.5, 2.0)
    rows = []
    for step in range(HISTORY_STEPS):
        frac = step / (HISTORY_STEPS - 1)
        val_loss = first_val * (final_val / first_val) ** frac
        at = runtime * (step + 1) / HISTORY_STEPS
        rows.append({
            "loss": round(val_loss * rng.uniform(0.8, 1.0), 4),
            "val_loss": round(val_loss, 4),
            "accuracy": round(max(0.0, 1.0 - val_loss / 4.0) * rng.uniform(0.98, 1.0), 4),
            "val_accuracy": round(max(0.0, 1.0 - val_loss / 4.0), 4),
            "grad_norm": round(rng.uniform(0.2, 3.0), 4),
            "_step": step, "_runtime": round(at, 3), "_timestamp": round(start + at, 3),
        })
    return rows
