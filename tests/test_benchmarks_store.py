"""The benchmark's generated stores are real stores: wbrun reads them, finds runs by ID,
continues their numbering and refuses their IDs, and `runs ls` answers the benchmark's query
with exactly the runs the generator says match.  (Nothing here is timed.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.genstore import generate  # noqa: E402
from benchmarks.workload import RUN_METRICS, query_runs, step_values  # noqa: E402
from wandb_cli.errors import RunExists  # noqa: E402
from wandb_cli.store.layout import Store  # noqa: E402

COUNT = 40


@pytest.fixture
def generated(tmp_path) -> tuple[Path, dict]:
    root = tmp_path / "gen"
    return root, generate(root, COUNT)


def test_every_run_reads_back_finished_with_its_config_and_summary(generated):
    root, made = generated
    records = list(Store(root).iter_runs(use_index=False))
    specs = {spec["id"]: spec for spec in query_runs(COUNT)}
    assert sorted(r.id for r in records) == sorted(specs)
    for record in records:
        spec = specs[record.id]
        assert record.state == "finished" and not record.problems
        assert record.config == spec["config"] and record.group == spec["group"]
        assert sorted(record.summary) == sorted(RUN_METRICS)
        assert record.summary["val_loss"] == spec["history"][-1]["val_loss"]
        history = Path(record.dir, "files", "wandb-history.jsonl").read_text().splitlines()
        assert [json.loads(line)["_step"] for line in history] == list(range(10))
    assert made["matches_val_loss_le_1"] == sum(r.summary["val_loss"] <= 1 for r in records)


def test_claims_point_at_the_runs_and_are_never_reused(generated):
    root, _ = generated
    store = Store(root)
    first = next(query_runs(COUNT))
    assert store.find(first["id"]).id == first["id"]
    assert store.read_claim(first["id"]) == {"dir": Path(store.find(first["id"]).dir).name,
                                             "status": "live"}
    with pytest.raises(RunExists):
        store.claim_new_id(first["id"])
    assert (root / "latest-run").is_symlink()


def test_a_real_run_continues_the_projects_numbering_and_writes_the_same_documents(generated):
    root, _ = generated
    vision = sum(spec["project"] == "vision" for spec in query_runs(COUNT))
    code = ("import json, sys, wandb_cli as w\n"
            "r = w.init(project='vision'); r.log({'loss': 1.0}); r.finish()\n"
            "print(json.dumps({'name': r.name, 'dir': r.dir}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "WBRUN_SYSTEM": "0", "WBRUN_DIR": str(root)})
    real = json.loads(out.stdout)
    assert real["name"].endswith(f"-{vision + 1}")
    generated_dir = Path(Store(root).find(next(query_runs(COUNT))["id"]).dir, "files")
    for doc in ("wbrun-run.json", "wandb-metadata.json"):
        real_keys = list(json.loads(Path(real["dir"], doc).read_text()))
        assert list(json.loads((generated_dir / doc).read_text())) == real_keys, doc


def test_runs_ls_answers_the_benchmark_query_exactly(generated, wbrun):
    root, made = generated
    result = wbrun("runs", "ls", "--dir", str(root), "--filter", "val_loss <= 1",
                   "--sort", "val_loss", "--format", "json", check_code=0)
    values = [r["summary"]["val_loss"] for r in json.loads(result.stdout)]
    assert len(values) == made["matches_val_loss_le_1"] > 0
    assert values == sorted(values) and max(values) <= 1


@pytest.mark.parametrize("variant", ["typical", "full"])
def test_logged_values_are_five_floats_and_deterministic(variant):
    rows = step_values(variant, 50)
    assert rows == step_values(variant, 50)
    assert all(len(row) == 5 and all(isinstance(v, float) for v in row.values()) for row in rows)
