"""Who launched this process on a cluster: SLURM's job and torchrun's ranks, from the
environment, as the run attributes `slurm.*` and `dist.*`.

Invariant: only the named variables below are read (the environment itself is never
recorded); numbers are stored as integers so `runs ls --sort slurm.array_task_id` sorts
numerically; a variable that is absent is left out, never stored empty.
"""
from __future__ import annotations

from typing import Mapping

SLURM_VARS = (  # attribute name, variables tried in order
    ("job_id", ("SLURM_JOB_ID", "SLURM_JOBID")),
    ("job_name", ("SLURM_JOB_NAME",)),
    ("array_job_id", ("SLURM_ARRAY_JOB_ID",)),
    ("array_task_id", ("SLURM_ARRAY_TASK_ID",)),
    ("node_list", ("SLURM_JOB_NODELIST", "SLURM_NODELIST")),
    ("node", ("SLURMD_NODENAME",)),
    ("restart_count", ("SLURM_RESTART_COUNT",)),
    ("partition", ("SLURM_JOB_PARTITION",)),
    ("proc_id", ("SLURM_PROCID",)),
    ("local_id", ("SLURM_LOCALID",)),
    ("ntasks", ("SLURM_NTASKS",)),
)
DIST_VARS = (
    ("rank", ("RANK",)),
    ("local_rank", ("LOCAL_RANK",)),
    ("world_size", ("WORLD_SIZE",)),
    ("local_world_size", ("LOCAL_WORLD_SIZE",)),
    ("group_rank", ("GROUP_RANK",)),
    ("run_id", ("TORCHELASTIC_RUN_ID",)),
    ("restart_count", ("TORCHELASTIC_RESTART_COUNT",)),
    ("max_restarts", ("TORCHELASTIC_MAX_RESTARTS",)),
)
SCOPES = ("slurm", "dist")


def _value(text: str) -> int | str:
    stripped = text.strip()
    return int(stripped) if stripped.isdigit() else stripped


def _read(env: Mapping[str, str], table) -> dict:
    found: dict = {}
    for name, variables in table:
        for variable in variables:
            if env.get(variable, "").strip():
                found[name] = _value(env[variable])
                break
    return found


def slurm_identity(env: Mapping[str, str]) -> dict:
    """The SLURM job of this process ({} outside SLURM)."""
    return _read(env, SLURM_VARS) if env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID") else {}


def dist_identity(env: Mapping[str, str]) -> dict:
    """torchrun's (torch.distributed.elastic's) identity of this process ({} outside it)."""
    if not any(env.get(v) for v in ("RANK", "WORLD_SIZE", "TORCHELASTIC_RUN_ID")):
        return {}
    return _read(env, DIST_VARS)


def default_group(env: Mapping[str, str]) -> str | None:
    """Under SLURM: the job (an array task as ARRAYJOBID_TASKID), else None."""
    slurm = slurm_identity(env)
    if not slurm:
        return None
    if "array_job_id" in slurm and "array_task_id" in slurm:
        return f"{slurm['array_job_id']}_{slurm['array_task_id']}"
    return str(slurm["job_id"])


def global_rank(env: Mapping[str, str]) -> int | None:
    """This process's rank: torchrun's RANK, else SLURM_PROCID; None when neither is set."""
    for variable in ("RANK", "SLURM_PROCID"):
        text = env.get(variable, "").strip()
        if text.isdigit():
            return int(text)
    return None
