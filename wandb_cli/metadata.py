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
from pathlib import Path
from typing import Any

from wandb_cli._version import __version__

_SECRET_NAME = r"(?:api[-_]?key|apikey|password|passwd|pwd|secret|token|auth|credentials?|access[-_]?key|private[-_]?key)"
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


def git_info(cwd: Path) -> dict[str, Any] | None:
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
            env: dict | None = None, gpu: dict | None = None) -> dict[str, Any]:
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
