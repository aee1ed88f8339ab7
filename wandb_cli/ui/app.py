"""The Starlette application: pages, the JSON API, and the guard in front of both.

Invariants: every request passes `Guard` first: its Host header must name the address the
server was bound to (a page on another site that rebinds its DNS name to 127.0.0.1 is
refused), and when the server listens beyond the loopback interface it must carry the
token (query `?token=`, then a cookie).  A POST must carry the per-server CSRF token in the
`X-Wbrun-Csrf` header (a cross-site form cannot set it) and is refused outright under
`--read-only`.  Errors are JSON ({"error": ...}) with 400/403/404, never a traceback; pages
hold no inline script, and the Content-Security-Policy forbids any.
"""
from __future__ import annotations

import hmac
import logging
import secrets
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from wandb_cli.errors import FilterError, RunNotFound, UsageError, WbrunError
from wandb_cli.store.layout import Store
from wandb_cli.textfmt import replace_surrogates
from wandb_cli.ui import api

STATIC = Path(__file__).parent / "static"
TOKEN_COOKIE = "wbrun_token"
CSRF_HEADER = "x-wbrun-csrf"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
WILDCARDS = frozenset({"0.0.0.0", "::", "[::]", ""})
_SAFE_INLINE = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                ".gif": "image/gif", ".webp": "image/webp"}
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'")
log = logging.getLogger("wbrun.ui")


class Settings:
    """What one server was started with: its store, tokens and the hosts it answers to."""

    def __init__(self, store: Store, *, host: str = "127.0.0.1", read_only: bool = False,
                 token: str | None = None):
        self.view = api.StoreView(store)
        self.read_only = read_only
        self.token = token
        self.csrf = secrets.token_urlsafe(24)
        self.host = host
        self.hosts = set(LOOPBACK_NAMES) | {host.lower()}
        self.any_host = host in WILDCARDS


# -- the guard -----------------------------------------------------------------------------
def _host_name(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):
        return header[:header.find("]") + 1] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """Host check, token check (and cookie), security headers: in front of every route."""

    def __init__(self, app: Any, settings: Settings):
        self.app, self.settings = app, settings

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        s = self.settings
        host = _host_name(headers.get("host", ""))
        if not host or not (s.any_host or host in s.hosts):
            await _send_json(send, 400, {"error": f"unknown Host header {host!r}: open the URL "
                                                  "wbrun ui printed"})
            return
        set_cookie = False
        if s.token is not None:
            given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
            cookie = SimpleCookie(headers.get("cookie", ""))
            held = cookie[TOKEN_COOKIE].value if TOKEN_COOKIE in cookie else ""
            if given and _same(given, s.token):
                set_cookie = True
            elif not (held and _same(held, s.token)):
                await _send_json(send, 401, {"error": "a token is needed: open the URL wbrun ui "
                                                      "printed (it ends in ?token=...)"})
                return
        if scope["method"] == "POST":
            problem = self.refuse_post(headers)
            if problem:
                await _send_json(send, 403, {"error": problem})
                return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                         (b"referrer-policy", b"no-referrer"),
                         (b"cache-control", b"no-store")]
                if not any(k == b"content-security-policy" for k, _ in message.get("headers", [])):
                    extra.append((b"content-security-policy", _CSP.encode()))
                if set_cookie:
                    extra.append((b"set-cookie", f"{TOKEN_COOKIE}={s.token}; Path=/; HttpOnly; "
                                                 "SameSite=Strict".encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def refuse_post(self, headers: dict[str, str]) -> str | None:
        if self.settings.read_only:
            return "this server is read-only (started with --read-only)"
        given = headers.get(CSRF_HEADER, "")
        if not (given and _same(given, self.settings.csrf)):
            return "missing or wrong CSRF token: reload the page"
        return None


def _same(given: str, secret: str) -> bool:
    """Constant-time comparison that takes any text (a non-ASCII str would raise)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), secret.encode())


async def _send_json(send, status: int, body: dict) -> None:
    data = orjson.dumps(body)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


# -- responses -----------------------------------------------------------------------------
def json_response(value: Any, status: int = 200) -> Response:
    try:
        data = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str)
    except orjson.JSONEncodeError:  # (rare) an int past 64 bits, a lone surrogate
        data = orjson.dumps(_browser_safe(value), option=orjson.OPT_NON_STR_KEYS, default=str)
    return Response(data, status_code=status, media_type="application/json")


def _browser_safe(value: Any) -> Any:
    """`value` with what orjson refuses made writable as the browser would read it: an
    integer past 64 bits as a float (JavaScript's numbers are floats; text past a float's
    range), a string with lone surrogates (undecodable bytes) with U+FFFD for them."""
    if isinstance(value, dict):
        return {_browser_safe(key): _browser_safe(inner) for key, inner in value.items()}
    if isinstance(value, (list, tuple)):
        return [_browser_safe(inner) for inner in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(1 << 63) <= value < (1 << 64):
        try:
            return float(value)
        except OverflowError:
            return str(value)
    if isinstance(value, str):
        return replace_surrogates(value)
    return value


def error_response(exc: Exception) -> Response:
    if isinstance(exc, RunNotFound):
        return json_response({"error": str(exc)}, 404)
    if isinstance(exc, UsageError):
        body: dict[str, Any] = {"error": str(exc)}
        if isinstance(exc, FilterError):
            body.update(error=exc.message, pos=exc.pos, expr=exc.expr, text=exc.render())
        return json_response(body, 400)
    if isinstance(exc, WbrunError):
        return json_response({"error": str(exc)}, 409)
    log.exception("wbrun ui: internal error")
    return json_response({"error": "internal error (see the server's terminal)"}, 500)


def _page(name: str, settings: Settings) -> Response:
    html = (STATIC / name).read_text(encoding="utf-8")
    html = html.replace("__CSRF__", settings.csrf).replace(
        "__READ_ONLY__", "1" if settings.read_only else "0")
    return Response(html, media_type="text/html; charset=utf-8")


def build_app(settings: Settings) -> Any:
    """The ASGI application for one store (the Guard around the Starlette routes)."""
    view = settings.view

    def handled(fn):
        def endpoint(request: Request) -> Response:
            try:
                return fn(request)
            except Exception as exc:  # every failure is a JSON answer, never a traceback
                return error_response(exc)
        return endpoint

    def run_of(request: Request):
        return view.run(request.path_params["run_id"])

    def file_response(request: Request) -> Response:
        record = run_of(request)
        path = api.file_path(record, request.path_params["path"])
        inline = _SAFE_INLINE.get(path.suffix.lower())
        response = FileResponse(path, media_type=inline or "application/octet-stream",
                                filename=None if inline else path.name)
        response.headers["content-security-policy"] = "sandbox; default-src 'none'"
        return response

    def history(request: Request) -> Response:
        record = run_of(request)
        if request.query_params.get("format") in ("csv", "json"):
            return _full_history(record, request.query_params["format"])
        return json_response(api.history(view, record, request.query_params))

    def runs(request: Request) -> Response:
        params = request.query_params
        page = _memo(view, ("runs", *sorted(params.multi_items())),
                     lambda records: api.runs_page(records, params))
        keys = _memo(view, ("keys", params.get("project") or ""),
                     lambda records: api.known_keys(records, params.get("project")))
        return json_response({**page, "keys": keys})

    async def action(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        try:
            raw = await request.body()
            try:
                body = orjson.loads(raw) if raw else {}
            except orjson.JSONDecodeError:
                raise UsageError("the request body is not JSON") from None
            if not isinstance(body, dict):
                raise UsageError("the request body must be a JSON object")
            answer = await run_in_threadpool(api.act, view, request.path_params["run_id"],
                                             request.path_params["action"], body)
            return json_response(answer)
        except Exception as exc:  # every failure is a JSON answer, never a traceback
            return error_response(exc)

    routes = [
        Route("/", handled(lambda r: _page("projects.html", settings))),
        Route("/projects/{project:path}", handled(lambda r: _page("workspace.html", settings))),
        Route("/runs/{run_id}", handled(lambda r: _page("run.html", settings))),
        Route("/api/projects", handled(lambda r: json_response(
            _memo(view, ("projects",), lambda records: api.projects(records))))),
        Route("/api/runs", handled(runs)),
        Route("/api/groups/history", handled(lambda r: json_response(
            api.group_history(view, r.query_params)))),
        Route("/api/runs/{run_id}", handled(lambda r: json_response(
            api.run_detail(view, run_of(r))))),
        Route("/api/runs/{run_id}/history", handled(history)),
        Route("/api/runs/{run_id}/system", handled(lambda r: json_response(
            api.history(view, run_of(r), r.query_params, system=True)))),
        Route("/api/runs/{run_id}/logs", handled(lambda r: json_response(
            api.logs(run_of(r), r.query_params)))),
        Route("/api/runs/{run_id}/files", handled(lambda r: json_response(
            api.list_files(run_of(r))))),
        Route("/api/runs/{run_id}/files/{path:path}", handled(file_response)),
        Route("/api/runs/{run_id}/artifacts", handled(lambda r: json_response(
            api.artifacts(view, run_of(r))))),
        Route("/api/runs/{run_id}/{action}", action, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC)),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        return json_response({"error": "not found" if status == 404 else
                              getattr(exc, "detail", "bad request")}, status)

    async def internal(request: Request, exc: Exception) -> Response:
        return error_response(exc)

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found,
                                                       Exception: internal})
    return Guard(app, settings)


def _memo(view: api.StoreView, key: tuple, compute) -> Any:
    """An answer computed from the run list once per snapshot of it."""
    generation, records = view.snapshot()
    return view.memo(generation, key, lambda: compute(records))


def _full_history(record, fmt: str) -> Response:
    """Every history row, undownsampled, as CSV or JSON lines."""
    from wandb_cli.store import jsonio
    from wandb_cli.store.history import columns_of, read_history, to_csv

    rows = read_history(record.dir, warn=None)
    if fmt == "csv":
        data = to_csv(rows, columns_of(rows)).encode("utf-8")
        media = "text/csv"
    else:
        data = b"".join(jsonio.dumps(row) + b"\n" for row in rows)
        media = "application/x-ndjson"
    return Response(data, media_type=media, headers={
        "content-disposition": f'attachment; filename="{record.id}-history.{fmt}"'})
