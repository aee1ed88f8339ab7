"""Shared by the `wbrun ui` tests: stores made by real `wbrun` runs, a real `wbrun ui`
server on a free port, and plain HTTP requests (http.client, so paths go out unnormalised)."""
from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import urlsplit

HOSTILE = "<img src=x onerror=alert(1)>"

TRAIN = textwrap.dedent("""
    import math, sys, time
    steps, lr, spike_at, delay = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    for step in range(steps):
        loss = 2.0 * math.exp(-lr * step) + (50.0 if step == spike_at else 0.0)
        print(f"loss={loss:.6f} acc={1 - loss / 60:.6f}", flush=True)
        if step % 100 == 0:
            print(f"\\x1b[32mstep {step}\\x1b[0m \\x1b]0;title\\x07ok", flush=True)
        if delay:
            time.sleep(delay)
""")


def wbrun_env(root: Path) -> dict:
    env = {**os.environ, "WBRUN_DIR": str(root), "NO_COLOR": "1", "WBRUN_SYSTEM_INTERVAL": "0.5"}
    for name in ("WBRUN_RUN_DIR", "WBRUN_RUN_ID", "WBRUN_MODE", "WANDB_MODE"):
        env.pop(name, None)
    return env


def run_wbrun(root: Path, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "wandb_cli", *args], capture_output=True,
                            text=True, env=wbrun_env(root), cwd=root.parent, timeout=timeout)
    if check:
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def train(root: Path, *, project: str, name: str, lr: float, opt: str, steps: int = 300,
          spike_at: int = -1, delay: float = 0.0) -> str:
    """One finished run made by the real wrapper; returns its ID."""
    script = root.parent / "train.py"
    script.write_text(TRAIN)
    run_wbrun(root, "-p", project, "-n", name, "-c", f"lr={lr}", "-c", f"opt={opt}", "--",
              sys.executable, str(script), str(steps), str(lr), str(spike_at), str(delay))
    return latest_id(root)


def start_training(root: Path, *, project: str, name: str, steps: int, delay: float) -> subprocess.Popen:
    """A run that stays running for a while (steps * delay seconds)."""
    script = root.parent / "train.py"
    script.write_text(TRAIN)
    return subprocess.Popen(
        [sys.executable, "-m", "wandb_cli", "-p", project, "-n", name, "--", sys.executable,
         str(script), str(steps), "0.01", "-1", str(delay)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=wbrun_env(root), cwd=root.parent)


def latest_id(root: Path) -> str:
    return json.loads(run_wbrun(root, "runs", "ls", "--format", "json", "--limit", "1").stdout)[0]["id"]


def make_store(root: Path) -> dict[str, str]:
    """Five finished runs in two projects (one with a hostile name, one with a spike)."""
    root.mkdir(parents=True, exist_ok=True)
    ids = {
        "a": train(root, project="mnist", name="adam-small", lr=0.01, opt="adam"),
        "b": train(root, project="mnist", name="sgd-small", lr=0.01, opt="sgd"),
        "c": train(root, project="mnist", name="adam-big", lr=0.05, opt="adam"),
        "spike": train(root, project="mnist", name="spiky", lr=0.02, opt="sgd", steps=5000,
                       spike_at=3217),
        "hostile": train(root, project="cifar", name=HOSTILE, lr=0.03, opt="adam", steps=50),
    }
    return ids


class UiServer:
    """`wbrun ui` in a subprocess on a free port; `stop()` sends Ctrl+C (SIGINT)."""

    def __init__(self, root: Path, *extra: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wandb_cli", "ui", "--dir", str(root), "--port", "0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=wbrun_env(root))
        self.line = line = self.proc.stdout.readline()
        match = re.search(r"(http://\S+)", line)
        if not match:
            self.proc.kill()
            raise AssertionError(f"no URL from wbrun ui: {line!r} {self.proc.stderr.read()!r}")
        self.url = match.group(1)
        parts = urlsplit(self.url)
        self.host, self.port = parts.hostname, parts.port
        self.base = f"http://{parts.netloc}"

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            sent = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
            if body is not None:
                sent["Content-Length"] = str(len(body))
            for key, value in sent.items():
                if value is not None:
                    conn.putheader(key, value)
            conn.endheaders(body)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def json(self, path: str, **kwargs) -> tuple[int, object]:
        status, _headers, data = self.request("GET", path, **kwargs)
        return status, json.loads(data)

    def csrf(self) -> str:
        status, _headers, page = self.request("GET", "/")
        assert status == 200
        return re.search(rb'name="wbrun-csrf" content="([^"]+)"', page).group(1).decode()

    def post(self, path: str, payload: dict, *, csrf: str | None) -> tuple[int, object]:
        headers = {"Content-Type": "application/json", "X-Wbrun-Csrf": csrf}
        status, _h, data = self.request("POST", path, body=json.dumps(payload).encode(), headers=headers)
        return status, json.loads(data)

    def stop(self, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def __enter__(self) -> UiServer:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()


def wait_for(predicate, timeout: float = 30, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(interval)
