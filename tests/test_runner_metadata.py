"""Git metadata of a run (runner/metadata.py): one `git status --porcelain=v2 --branch`
gives what four git calls gave (commit, branch, dirtiness; the origin URL asked once per
folder), in every state a repository can be in, checked against the four calls themselves
and through a real run."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wandb_cli.runner import metadata
from wandb_cli.runner.metadata import _git_info_separately, git_info

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=repo,
                          check=True, capture_output=True, text=True).stdout.strip()


def both(folder: Path) -> dict | None:
    metadata._ORIGINS.clear()
    one = git_info(folder)
    assert one == _git_info_separately(folder)
    return one


def test_every_state_agrees_with_the_separate_calls(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    assert both(repo) is None  # no commit yet
    (repo / "train.py").write_text("print(1)\n")
    git(repo, "add", "train.py")
    git(repo, "commit", "-qm", "first")
    clean = both(repo)
    assert clean == {"commit": git(repo, "rev-parse", "HEAD"), "remote": None, "dirty": False, "branch": "main"}
    git(repo, "remote", "add", "origin", "https://alice:s3cret@example.com/team/repo.git")
    (repo / "train.py").write_text("print(2)\n")
    (repo / "untracked.txt").write_text("not counted\n")
    dirty = both(repo)
    assert dirty["dirty"] is True and dirty["remote"] == "https://alice:***@example.com/team/repo.git"
    git(repo, "checkout", "-q", "--detach")
    sub = repo / "deep" / "er"
    sub.mkdir(parents=True)
    assert both(sub)["branch"] == "HEAD"
    assert both(tmp_path) is None  # not a repository


def test_a_run_in_a_repository_records_it(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "exp")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-qm", "a")
    (repo / "a.txt").write_text("b\n")
    env = {**os.environ, "WBRUN_DIR": str(tmp_path / "store"), "WBRUN_SYSTEM": "0"}
    code = "import wandb_cli as w\nfor i in range(3):\n    w.init(project='g'); w.log({'i': i}); w.finish()\n"
    subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, check=True, timeout=120)
    recorded = [json.loads(p.read_text())["git"] for p in (tmp_path / "store").glob("run-*/files/wandb-metadata.json")]
    assert len(recorded) == 3
    assert all(g == {"commit": git(repo, "rev-parse", "HEAD"), "remote": None, "dirty": True, "branch": "exp"}
               for g in recorded)
