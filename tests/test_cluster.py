"""Cluster identity (SLURM, torchrun) as run attributes, `--rank-zero-only`, `wbrun doctor`."""
from __future__ import annotations

import json
import sys

import pytest
from helpers_sync import run_wbrun

from wandb_cli.store import cluster
from wandb_cli.store.fscheck import check_store, judge_mount, mount_of, parse_mounts

CLEAN = {name: "" for name in ("SLURM_JOB_ID", "SLURM_JOBID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID",
                               "SLURM_JOB_NODELIST", "SLURM_NODELIST", "SLURM_RESTART_COUNT",
                               "SLURM_JOB_PARTITION", "SLURM_PROCID", "RANK", "LOCAL_RANK",
                               "WORLD_SIZE", "TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT")}


def slurm_env(**extra: str) -> dict:
    return {**CLEAN, "SLURM_JOB_ID": "4242", "SLURM_JOB_NODELIST": "gpu[01-02]",
            "SLURM_RESTART_COUNT": "1", "SLURM_JOB_PARTITION": "a100", **extra}


def ls_json(*args: str) -> list[dict]:
    return json.loads(run_wbrun("runs", "ls", "--format", "json", *args).stdout)


def test_slurm_identity_recorded_filtered_sorted_grouped(store_dir):
    for task in ("2", "10"):
        run_wbrun("--id", f"task{task}", "-q", "--no-system", "--", "true",
                  env=slurm_env(SLURM_ARRAY_JOB_ID="4240", SLURM_ARRAY_TASK_ID=task))
    run_wbrun("--id", "plain", "-q", "--no-system", "--", "true", env=slurm_env())
    run_wbrun("--id", "named", "-g", "mine", "-q", "--no-system", "--", "true", env=slurm_env())
    run_wbrun("--id", "local", "-q", "--no-system", "--", "true", env=CLEAN)
    runs = {r["id"]: r for r in ls_json()}
    assert runs["task2"]["slurm"] == {"job_id": 4242, "array_job_id": 4240, "array_task_id": 2,
                                      "node_list": "gpu[01-02]", "restart_count": 1, "partition": "a100"}
    assert [runs[i]["group"] for i in ("task2", "task10", "plain", "named", "local")] == [
        "4240_2", "4240_10", "4242", "mine", None]
    assert "slurm" not in runs["local"]
    assert sorted(r["id"] for r in ls_json("--filter", "slurm.job_id = 4242")) == [
        "named", "plain", "task10", "task2"]
    assert [r["id"] for r in ls_json("--filter", "slurm.array_task_id is not null",
                                     "--sort", "slurm.array_task_id")] == ["task2", "task10"]
    grouped = run_wbrun("runs", "ls", "--group-by", "slurm.array_job_id", "--format", "csv").stdout
    assert "4240" in grouped
    table = run_wbrun("runs", "ls", "--columns", "id,slurm.partition,slurm.restart_count").stdout
    assert "a100" in table


def test_torchrun_identity_and_rank_zero_only(store_dir, tmp_path):
    torch_env = {**CLEAN, "LOCAL_RANK": "1", "WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "job7",
                 "TORCHELASTIC_RESTART_COUNT": "0"}
    run_wbrun("--id", "rank0", "-q", "--no-system", "--", "true", env={**torch_env, "RANK": "0"})
    run_wbrun("--id", "rank1", "-q", "--no-system", "--", "true", env={**torch_env, "RANK": "1"})
    assert ls_json("--filter", "dist.rank = 1")[0]["dist"] == {
        "rank": 1, "local_rank": 1, "world_size": 2, "run_id": "job7", "restart_count": 0}
    script = ("import sys, wandb_cli as wandb\nrun = wandb.init(project='r0')\nrun.log({'x': 1})\n"
              "run.finish()\nprint('ran on', sys.argv[1])\nsys.exit(5)")
    for rank in ("1", "0"):
        result = run_wbrun("--rank-zero-only", "-p", "r0", "-q", "--no-system", "--", sys.executable, "-c",
                           script, rank, env={**torch_env, "RANK": rank}, code=5)
        assert f"ran on {rank}" in result.stdout
    recorded = ls_json("--filter", "project = r0")
    assert [r["dist"]["rank"] for r in recorded] == [0]  # rank 1 ran, unrecorded, SDK disabled too
    result = run_wbrun("--rank-zero-only", "-q", "--", sys.executable, "-c", "print('solo')",
                       env=CLEAN)  # no rank at all: recorded as usual
    assert "solo" in result.stdout


def test_identity_reads_only_named_variables():
    env = {"SLURM_JOB_ID": "7", "SLURM_ARRAY_JOB_ID": "5", "SLURM_ARRAY_TASK_ID": "0",
           "SLURM_SECRET": "x", "RANK": "3"}
    assert cluster.slurm_identity(env) == {"job_id": 7, "array_job_id": 5, "array_task_id": 0}
    assert cluster.default_group(env) == "5_0"
    assert cluster.dist_identity(env) == {"rank": 3}
    assert cluster.global_rank({"SLURM_PROCID": "2"}) == 2 and cluster.global_rank({}) is None
    assert cluster.slurm_identity({"SLURM_ARRAY_TASK_ID": "1"}) == {}


MOUNTS = """\
/dev/vda1 / ext4 rw,relatime 0 0
srv:/home /home nfs4 rw,vers=4.2,hard,proto=tcp,local_lock=none,addr=10.0.0.1 0 0
srv:/scratch /scratch nfs rw,vers=3,nolock,acregmax=30 0 0
srv:/fast /home/fast nfs4 rw,local_lock=flock,noac 0 0
10.0.0.2@tcp:/lus /lustre lustre rw,flock 0 0
10.0.0.2@tcp:/lus2 /lustre2 lustre rw,localflock 0 0
10.0.0.2@tcp:/lus3 /lustre3 lustre rw 0 0
/dev/sdb1 /data\\040x ext4 rw 0 0
"""


@pytest.mark.parametrize("path, levels, words", [
    ("/tmp/x", ["ok"], "a local filesystem"),
    ("/home/me/wandb", ["ok", "warn"], "up to 60 s"),
    ("/home/fast/wandb", ["warn", "ok"], "local_lock=flock"),
    ("/scratch/w", ["warn", "info"], "up to 30 s"),
    ("/lustre/w", ["ok"], "flock: locks hold across nodes"),
    ("/lustre2/w", ["warn"], "this node only"),
    ("/lustre3/w", ["fail"], "without -o flock"),
    ("/data x/w", ["ok"], "a local filesystem"),
])
def test_doctor_judges_mounts(path, levels, words):
    from pathlib import Path

    mount = mount_of(Path(path), parse_mounts(MOUNTS))
    findings = judge_mount(mount)
    assert [f.level for f in findings] == levels
    assert any(words in f.text for f in findings), findings


def test_doctor_on_this_store(store_dir):
    result = run_wbrun("doctor")
    assert "flock excludes another process" in result.stdout
    assert "atomic renames work" in result.stdout
    findings = check_store(store_dir, mounts_text=MOUNTS.replace("/lustre3", str(store_dir.parent)))
    assert any(f.level == "fail" and "without -o flock" in f.text for f in findings)
    failing = run_wbrun("doctor", code=None, env={"WBRUN_DIR": "/proc/wbrun-store"})
    assert failing.returncode == 1 and "fail" in failing.stdout
