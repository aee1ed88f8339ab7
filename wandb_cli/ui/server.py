"""`wbrun ui`'s server: bind, print the URL, serve with uvicorn until Ctrl+C.

Invariant: the socket is bound before anything is printed, so a port in use is one error
line (exit 1) and the printed URL always names the real port (port 0 picks a free one).
Any host but the loopback gets a fresh random token, printed only inside that URL.
"""
from __future__ import annotations

import errno
import ipaddress
import secrets
import socket
import sys
from typing import Callable

from wandb_cli.errors import StoreError, UsageError
from wandb_cli.store.layout import Store


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); StoreError (exit 1) when the port is taken."""
    if not 0 <= port <= 65535:
        raise UsageError(f"bad --port {port}: give 0 to 65535 (0 picks a free port)")
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"bad --host {host!r}: {exc.strerror}") from None
    family, _type, _proto, _name, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StoreError(f"port {port} on {host} is in use: pick another with --port "
                             "(0 picks a free one)") from None
        raise StoreError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def url_of(host: str, port: int, token: str | None) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def serve(store: Store, *, host: str, port: int, read_only: bool, open_browser: bool,
          echo: Callable[[str], None] = print) -> None:
    """Serve the UI for `store` until interrupted."""
    import uvicorn

    from wandb_cli.ui.app import Settings, build_app

    token = None if is_loopback(host) else secrets.token_urlsafe(24)
    sock = bind(host, port)
    settings = Settings(store, host=host, read_only=read_only, token=token)
    url = url_of(host, sock.getsockname()[1], token)
    echo(f"wbrun ui: serving {store.root} at {url}" + (" (read-only)" if read_only else ""))
    echo("wbrun ui: press Ctrl+C to stop")
    sys.stdout.flush()
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(build_app(settings), log_level="warning", lifespan="off",
                            access_log=False, server_header=False)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
