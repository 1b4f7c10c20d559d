"""The dashboard's ASGI application, served under `/` next to the API (see `routing`).

Routes (GET only):
- `/login`, `/`, `/charge-points/{id}`: page shells, no data and no token needed.
- `/fragments/overview`, `/fragments/charge-points/{id}`: the data as HTML, for the page's
  script. They need the operator's bearer token and get their data from the API app itself,
  in process (an ASGI call with the same Authorization header), so the dashboard sees and may
  do exactly what the token may through the API.
- `/static/app.js`, `/static/app.css`.

Every answer carries a Content-Security-Policy that allows only this origin's script and
style (no inline script), a second line of defence behind the escaping in `pages`.
"""

import logging
from collections.abc import Mapping
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

import msgspec

from ocppd.transport.server import ASGIApp, Receive, Scope, SendMessage
from ocppd.web import pages

log = logging.getLogger("ocppd.web")

API_PREFIX = "/api/v1"
MESSAGES_SHOWN = 50
MAX_CHARGE_POINTS = 5000
"""The overview fetches at most this many charge points (pages of 1000)."""

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]

STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}


def _static(name: str) -> bytes:
    return resources.files("ocppd.web").joinpath("static", name).read_bytes()


class WebApp:
    def __init__(self, api: ASGIApp) -> None:
        self.api = api
        self.static = {name: _static(name) for name in STATIC}

    async def __call__(self, scope: Scope, receive: Receive, send: SendMessage) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _respond(send, 405, b"method not allowed", "text/plain; charset=utf-8")
            return
        path = _raw_path(scope)
        query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        if path == "/":
            await _html(send, pages.overview_page(query.get("q", ""), query.get("state", "")))
        elif path == "/login":
            await _html(send, pages.login_page())
        elif path.startswith("/charge-points/") and len(path) > len("/charge-points/"):
            await _html(send, pages.charge_point_page(unquote(path[len("/charge-points/") :])))
        elif path == "/fragments/overview":
            await self._overview(scope, send, query)
        elif path.startswith("/fragments/charge-points/"):
            identity = unquote(path[len("/fragments/charge-points/") :])
            await self._charge_point(scope, send, identity)
        elif path.startswith("/static/") and path[len("/static/") :] in STATIC:
            name = path[len("/static/") :]
            await _respond(send, 200, self.static[name], STATIC[name], cache=True)
        else:
            await _html(send, pages.layout("Not found", "<h1>Not found</h1>", "missing"), 404)

    async def _overview(self, scope: Scope, send: SendMessage, query: Mapping[str, str]) -> None:
        items: list[Any] = []
        cursor = None
        while len(items) < MAX_CHARGE_POINTS:
            params = {"limit": "1000"} | ({"cursor": cursor} if cursor else {})
            status, body = await self.get(scope, "/charge-points", params)
            if status != 200:
                await _problem(send, status, body)
                return
            items += body["items"]
            cursor = body.get("nextCursor")
            if not cursor:
                break
        fragment = pages.overview_fragment(items, query.get("q", ""), query.get("state", ""))
        await _html(send, fragment)

    async def _charge_point(self, scope: Scope, send: SendMessage, identity: str) -> None:
        status, cp = await self.get(scope, "/charge-points/" + quote(identity, safe=""))
        if status != 200:
            await _problem(send, status, cp)
            return
        params = {"chargePointId": identity, "limit": str(MESSAGES_SHOWN)}
        status, log_page = await self.get(scope, "/messages", params)
        if status != 200:
            await _problem(send, status, log_page)
            return
        await _html(send, pages.charge_point_fragment(cp, log_page["items"]))

    async def get(
        self, scope: Scope, path: str, params: Mapping[str, str] | None = None
    ) -> tuple[int, Any]:
        """GET on the API app in process, with the caller's Authorization header."""
        headers = [(k, v) for k, v in scope.get("headers", []) if k == b"authorization"]
        raw_path = (API_PREFIX + path).encode()
        inner: Scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": scope.get("scheme", "http"),
            "path": unquote(API_PREFIX + path),
            "raw_path": raw_path,
            "root_path": "",
            "query_string": urlencode(params or {}).encode(),
            "headers": [*headers, (b"accept", b"application/json")],
            "client": scope.get("client"),
            "server": scope.get("server"),
            "state": dict(scope.get("state") or {}),
        }
        status = 500
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Mapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.api(inner, receive, send)
        body = b"".join(chunks)
        try:
            return status, msgspec.json.decode(body) if body else None
        except msgspec.DecodeError:
            return status, {"error": body.decode(errors="replace")[:200]}


def app(api: ASGIApp) -> ASGIApp:
    """The dashboard as an ASGI app that reads its data from `api` (the API's ASGI app)."""
    return WebApp(api)


def _raw_path(scope: Scope) -> str:
    # The raw path keeps a `%2F` inside an identity apart from a `/` between segments.
    raw = scope.get("raw_path")
    path = raw.decode("latin-1").split("?", 1)[0] if raw else quote(scope["path"])
    return path


async def _problem(send: SendMessage, status: int, body: Any) -> None:
    error = body.get("error", "") if isinstance(body, dict) else ""
    await _html(send, pages.problem_fragment(status, str(error)), status)


async def _html(send: SendMessage, text: str, status: int = 200) -> None:
    await _respond(send, status, text.encode(), "text/html; charset=utf-8")


async def _respond(
    send: SendMessage, status: int, body: bytes, content_type: str, cache: bool = False
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"public, max-age=300" if cache else b"no-store"),
        *SECURITY_HEADERS,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: SendMessage) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
