"""Helpers for the outside-attack fault tests (test_faults_attack.py): another "host" (a UTS
namespace with its own host name, a skewed wall clock in the program under test), a
pseudo-terminal session, waiting on run folders."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Loaded by every Python process started with fake_clock_env(): the program under test sees
# a wall clock shifted by FAKE_CLOCK_SHIFT_S seconds, from FAKE_CLOCK_STEP_AFTER_S seconds
# after it started (0: from the start).  Only time.time moves; time.monotonic does not, as
# when NTP steps a clock or a host's clock is simply wrong.
SITECUSTOMIZE = '''\
import os, time
_shift = float(os.environ.get("FAKE_CLOCK_SHIFT_S", "0"))
_after = float(os.environ.get("FAKE_CLOCK_STEP_AFTER_S", "0"))
_real, _mono0 = time.time, time.monotonic()
def _fake():
    return _real() + (_shift if time.monotonic() - _mono0 >= _after else 0.0)
time.time = _fake
'''


def fake_clock_env(tmp_path: Path, shift_s: float, after_s: float = 0.0) -> dict:
    """The environment of a Python process whose wall clock is off by `shift_s`."""
    folder = tmp_path / "fake-clock"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return {**os.environ, "PYTHONPATH": f"{folder}{os.pathsep}{REPO}",
            "FAKE_CLOCK_SHIFT_S": str(shift_s), "FAKE_CLOCK_STEP_AFTER_S": str(after_s)}


def wbrun_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "wandb_cli", *args]


def need_unshare(*flags: str) -> None:
    """Skip unless this machine lets us create the namespaces `flags` name (root, Linux)."""
    if not shutil.which("unshare"):
        pytest.skip("no unshare(1)")
    probe = subprocess.run(["unshare", *flags, "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare {' '.join(flags)} is not permitted here: {probe.stderr!r}")


def on_other_host(argv: list[str], host: str = "host-b") -> list[str]:
    """`argv` run under another host name (its own UTS namespace)."""
    script = 'hostname "$0" && exec "$@"'
    return ["unshare", "-u", "sh", "-c", script, host, *argv]


def in_other_pid_namespace(argv: list[str]) -> list[str]:
    """`argv` run in a pid namespace of its own (same host name), like another container."""
    return ["unshare", "-p", "-f", "--mount-proc", *argv]


def run_doc(store: Path, run_id: str, timeout: float = 30.0) -> tuple[Path, dict]:
    """(run folder, run document) once the run's document exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            claim = json.loads((store / ".wbrun" / "ids" / run_id).read_text())
            folder = store / claim["dir"]
            return folder, json.loads((folder / "files" / "wbrun-run.json").read_text())
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            time.sleep(0.05)
    raise AssertionError(f"run {run_id} never appeared")


def history_rows(folder: Path) -> list[dict]:
    path = folder / "files" / "wandb-history.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for_rows(folder: Path, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while len(history_rows(folder)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} history rows"
        time.sleep(0.05)


def ticking_program(steps: int, pause_s: float) -> list[str]:
    """A program printing `i=N` (a metric line) `steps` times, `pause_s` apart."""
    code = (f"import time\nfor i in range({steps}):\n    print(f'i={{i}}', flush=True)\n"
            f"    time.sleep({pause_s})\n")
    return [sys.executable, "-c", code]


class Terminal:
    """An interactive bash on a pseudo-terminal, typed at as a user would."""

    PROMPT = "wbrun-test-prompt$ "

    def __init__(self, cwd: Path, env: dict):
        import pty

        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(cwd)
            os.execvpe("bash", ["bash", "--norc", "--noprofile", "-i"],
                       {**env, "PS1": self.PROMPT, "TERM": "dumb"})
        self.seen = ""

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def expect(self, text: str, timeout: float = 60.0) -> str:
        """Read until `text` appears after what was already matched; the output so far."""
        import select

        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} never appeared; the terminal showed:\n{self.seen[-2000:]}"
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.5))
            if ready:
                try:
                    self.seen += os.read(self.fd, 65536).decode(errors="replace")
                except OSError:
                    break
        assert text in self.seen, self.seen[-2000:]
        matched, self.seen = self.seen.split(text, 1)
        return matched

    def close(self) -> None:
        import signal

        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def process_state(pid: int) -> str:
    """The one-letter state of `pid` (R, S, T for stopped...), '' once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat[stat.rfind(")") + 2]
