"""What a run records about where it ran: command, host, Python, git, hardware.

Invariants: the environment is never recorded (only named SLURM/CI markers); values of
arguments that look like secrets are replaced by *** before anything is written.
"""
from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from wandb_cli._version import __version__
from wandb_cli.errors import StoreError
from wandb_cli.store import jsonio
from wandb_cli.store.layout import METADATA

if TYPE_CHECKING:
    from wandb_cli.store.recorder import LiveRun

_SECRET_NAME = (r"(?:api[-_]?key|apikey|password|passwd|pwd|secret|token|auth|credentials?"
                r"|access[-_]?key|private[-_]?key)")
_FLAG_ONLY = re.compile(rf"--?[\w-]*{_SECRET_NAME}[\w-]*\Z", re.IGNORECASE)
_WITH_VALUE = re.compile(rf"(-{{0,2}}[\w.-]*{_SECRET_NAME}[\w.-]*\s*[=:])(.+)\Z", re.IGNORECASE | re.DOTALL)
_URL_CREDENTIALS = re.compile(r"([a-zA-Z][\w+.-]*://[^/\s:@]*):[^@\s/]*@")
# https://TOKEN@host (GitHub and Hugging Face tokens go there) and ?token=... in any URL.
_URL_TOKEN_USER = re.compile(r"(https?://)[^/\s:@]+@", re.IGNORECASE)
_URL_QUERY_SECRET = re.compile(rf"([?&;][\w.-]*{_SECRET_NAME}[\w.-]*=)[^&#\s]+", re.IGNORECASE)
MASK = "***"

SLURM_CI_MARKERS = (
    "SLURM_JOB_ID", "SLURM_JOB_NAME", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID",
    "SLURM_PROCID", "SLURM_NODELIST", "CI", "GITHUB_ACTIONS", "GITHUB_RUN_ID",
    "GITLAB_CI", "CI_JOB_ID", "BUILDKITE", "JENKINS_URL", "BUILD_ID",
)


def redact_command(argv: list[str]) -> list[str]:
    """The command line with secret-looking values replaced by ***."""
    out: list[str] = []
    mask_next = False
    for arg in argv:
        if mask_next:
            out.append(MASK)
            mask_next = False
            continue
        if _FLAG_ONLY.match(arg):
            out.append(arg)
            mask_next = True
            continue
        arg = _URL_CREDENTIALS.sub(r"\1:" + MASK + "@", arg)
        arg = _URL_TOKEN_USER.sub(r"\1" + MASK + "@", arg)
        arg = _URL_QUERY_SECRET.sub(r"\1" + MASK, arg)
        match = _WITH_VALUE.match(arg)
        out.append(match.group(1) + MASK if match else arg)
    return out


def _git(cwd: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                                timeout=5, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


_ORIGINS: dict[str, str | None] = {}  # folder -> its origin URL, asked once per process


def git_info(cwd: Path) -> dict[str, Any] | None:
    """commit, remote, dirty, branch of the repository holding `cwd` (None outside one).

    One `git status --porcelain=v2 --branch` gives commit, branch and dirtiness, and the
    origin URL is asked once per folder per process: a loop of many short runs in one
    program spent ~11 ms a run on four git calls (now one, ~3 ms)."""
    status = _git(cwd, "status", "--porcelain=v2", "--branch", "--untracked-files=no")
    if status is None:
        return None
    lines = status.splitlines()
    head = dict(line[2:].split(" ", 1) for line in lines if line.startswith("# ") and " " in line[2:])
    commit = head.get("branch.oid")
    if commit is None:  # a git too old for porcelain v2: ask the old way
        return _git_info_separately(cwd)
    if commit == "(initial)":  # no commit yet
        return None
    branch = head.get("branch.head")
    key = str(cwd)
    if key not in _ORIGINS:
        _ORIGINS[key] = _git(cwd, "remote", "get-url", "origin")
    remote = _ORIGINS[key]
    return {
        "commit": commit,
        "remote": redact_command([remote])[0] if remote else None,
        "dirty": any(not line.startswith("#") for line in lines),
        "branch": "HEAD" if branch == "(detached)" else branch,
    }


def _git_info_separately(cwd: Path) -> dict[str, Any] | None:
    commit = _git(cwd, "rev-parse", "HEAD")
    if commit is None:
        return None
    remote = _git(cwd, "remote", "get-url", "origin")
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "remote": redact_command([remote])[0] if remote else None,
        "dirty": bool(status),
        "branch": _git(cwd, "rev-parse", "--abbrev-ref", "HEAD"),
    }


def memory_total() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def collect(command: list[str], *, cwd: Path, host: str, start: float, user: str,
            env: Mapping[str, str] | None = None, gpu: dict | None = None) -> dict[str, Any]:
    env = os.environ if env is None else env
    program = command[0] if command else sys.argv[0]
    return {
        "command": redact_command(command),
        "program": program,
        "args": redact_command(command[1:]),
        "cwd": str(cwd),
        "host": host,
        "username": user,
        "os": platform.platform(),
        "python": platform.python_version(),
        "executable": sys.executable,
        "git": git_info(cwd),
        "startedAt": start,
        "cpu_count": os.cpu_count(),
        "cpu_count_logical": os.cpu_count(),
        "memory": {"total": memory_total()},
        "gpu": gpu,
        "wbrun_version": __version__,
        "markers": {k: env[k] for k in SLURM_CI_MARKERS if k in env},
    }


def write_metadata(live: LiveRun, command: list[str]) -> None:
    """wandb-metadata.json; runs in a thread so git and NVML never delay the program."""
    gpu = None
    try:
        from wandb_cli.sysmetrics import host as sysmetrics

        gpu = sysmetrics.gpu_metadata()
    except Exception:
        gpu = None
    try:
        doc = collect(command, cwd=Path.cwd(), host=live.store.host,
                       start=live.doc.get("created", time.time()),
                       user=live.doc.get("entity", ""), gpu=gpu or None)
        jsonio.write_json_atomic(live.paths.file(METADATA), doc, indent=True)
    except StoreError as exc:
        print(f"wbrun: warning: {exc.render()}", file=sys.stderr)
    except Exception as exc:
        print(f"wbrun: warning: cannot write {METADATA}: {exc}", file=sys.stderr)
