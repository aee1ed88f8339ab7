"""Shared by the sync tests: a real MLflow tracking server on a free loopback port, and
runs made by real `wbrun` processes."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _mlflow_command() -> list[str]:
    exe = shutil.which("mlflow")
    return [exe] if exe else [sys.executable, "-m", "mlflow"]


@contextlib.contextmanager
def mlflow_server(workdir: Path, timeout_s: float = 120.0) -> Iterator[str]:
    """`mlflow server` with a sqlite backend and a local artifact root; yields its URL once
    /health answers, and stops it (the whole process group) at the end."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = open(workdir / "server.log", "wb")
    env = {**os.environ, "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING": "false"}
    proc = subprocess.Popen(
        [*_mlflow_command(), "server", "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
         "--artifacts-destination", str(workdir / "artifacts"), "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=workdir)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited {proc.returncode}: "
                                   f"{(workdir / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server not healthy after {timeout_s}s: "
                                   f"{(workdir / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


class MlflowProxy:
    """A loopback HTTP proxy in front of a real MLflow server that can play a server going
    down at a chosen moment: once it has passed on `metric_batches` log-batch requests that
    carry metrics, and their answers, it answers nothing more until `heal()`."""

    def __init__(self, upstream: str, metric_batches: int | None):
        import http.server
        import threading
        from urllib.parse import urlsplit

        self.upstream = urlsplit(upstream)
        self.left = metric_batches
        self.down = False
        proxy = self

        class Forward(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                proxy.forward(self)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

            def log_message(self, *_args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Forward)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def heal(self) -> None:
        self.left, self.down = None, False

    def forward(self, handler) -> None:
        import http.client
        import json

        if self.down:
            handler.close_connection = True  # no answer: the client sees the server gone
            return
        body = _request_body(handler)
        upstream = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=120)
        headers = {k: v for k, v in handler.headers.items()
                   if k.lower() not in ("host", "connection", "transfer-encoding", "content-length")}
        headers["Content-Length"] = str(len(body))
        upstream.request(handler.command, handler.path, body, headers)
        response = upstream.getresponse()
        data = response.read()
        upstream.close()
        if (self.left is not None and handler.path.endswith("/runs/log-batch")
                and json.loads(body or b"{}").get("metrics")):
            self.left -= 1
            self.down = self.left <= 0
        handler.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def _request_body(handler) -> bytes:
    """The body as sent: by Content-Length, or chunked (MLflow uploads artifacts so)."""
    if handler.headers.get("Transfer-Encoding", "").lower() != "chunked":
        return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
    body = b""
    while True:
        size = int(handler.rfile.readline().split(b";")[0], 16)
        body += handler.rfile.read(size)
        handler.rfile.readline()  # the CRLF after a chunk (or after the empty trailer)
        if size == 0:
            return body


@contextlib.contextmanager
def mlflow_proxy(upstream: str, *, metric_batches: int | None = None) -> Iterator[MlflowProxy]:
    proxy = MlflowProxy(upstream, metric_batches)
    try:
        yield proxy
    finally:
        proxy.close()


def wbrun_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "wandb_cli", *args]


def run_wbrun(*args: str, env: dict | None = None, timeout: float = 300,
              code: int | None = 0) -> subprocess.CompletedProcess:
    """A real `wbrun` process; asserts its exit status unless `code` is None."""
    result = subprocess.run(wbrun_argv(*args), capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **(env or {})})
    if code is not None:
        assert result.returncode == code, (args, result.stdout, result.stderr)
    return result


def wrapped(*wrap_args: str, script: str, code: int = 0, env: dict | None = None) -> None:
    """`wbrun WRAP_ARGS -- python -c SCRIPT`, which must exit with `code`."""
    run_wbrun(*wrap_args, "-q", "--", sys.executable, "-c", script, env=env, code=code)


def start_wrapped(*wrap_args: str, script: str, env: dict | None = None) -> subprocess.Popen:
    """A wrapped run left running, in its own process group (kill it with os.killpg)."""
    return subprocess.Popen(wbrun_argv(*wrap_args, "-q", "--", sys.executable, "-c", script),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, **(env or {})})


def history_rows(store: Path, run_id: str) -> list[dict]:
    import json

    folders = [p for p in store.glob(f"run-*-{run_id}") if p.is_dir()]
    if not folders:
        return []  # not made yet
    [folder] = folders
    path = folder / "files" / "wandb-history.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_dir(store: Path, run_id: str) -> Path:
    [folder] = [p for p in store.glob(f"run-*-{run_id}") if p.is_dir()]
    return folder


def wait_for(predicate, timeout_s: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def git_repo(folder: Path) -> str:
    """Make `folder` a git repository with one commit; returns the commit."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", "init", "-q", str(folder)], check=True, env=env)
    subprocess.run(["git", "-C", str(folder), "commit", "-q", "--allow-empty", "-m", "init"],
                   check=True, env=env)
    return subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


# Logs 5 steps through the SDK, a summary-only value, and saves a file.
LOGGING_SCRIPT = """
import wandb_cli as wandb
run = wandb.init()
for i in range(5):
    run.log({"loss": 1.0 / (i + 1), "acc": i / 5, "nested": {"x": i}})
run.summary["best_acc"] = 0.875
open("result.txt", "w").write("result")
run.save("result.txt", policy="now")
"""
