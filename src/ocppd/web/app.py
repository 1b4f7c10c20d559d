"""The dashboard's ASGI application, served under `/` next to the API (see `routing`).

Routes (GET only):
- pages: `/login`, `/`, `/charge-points/{id}`, `/transactions`, `/transactions/{n}`,
  `/id-tags`, `/reservations`, `/security-events`, `/sites`, `/sites/{id}`,
  `/certificates`, `/audit-log` and the smart-charging and jobs pages of a charge point:
  shells without data, no token needed.
- fragments under `/fragments/...`: the data as HTML, for the page's script. They need the
  operator's bearer token and get their data from the API app itself, in process (an ASGI
  call with the same Authorization header), so the dashboard sees exactly what the token may
  see through the API; what it changes, the script sends to the API directly.
- `/static/app.js`, `/static/app.css`.

Every answer carries a Content-Security-Policy that allows only this origin's script and
style (no inline script or style), a second line of defence behind the escaping in `markup`.
"""

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

import msgspec

from ocppd.transport.server import ASGIApp, Receive, Scope, SendMessage, lifespan
from ocppd.web import (
    audit_log,
    certificates,
    charge_point,
    id_tags,
    jobs,
    message_log,
    overview,
    reservations,
    security_events,
    sites,
    smart_charging,
    transactions,
)
from ocppd.web.layout import login_page, not_found_page
from ocppd.web.markup import problem_fragment, segment
from ocppd.web.paging import with_cursor

log = logging.getLogger("ocppd.web")

API_PREFIX = "/api/v1"
RUNNING_SHOWN = 10
MAX_CHARGE_POINTS = 5000
"""The overview fetches at most this many charge points (pages of 1000)."""
MAX_ID = 2**63 - 1

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


class ApiFailure(Exception):
    """The API refused a read: its status and Problem, shown as the fragment."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


@dataclass
class Request:
    scope: Scope
    query: dict[str, str]
    args: list[str]
    """The path segments matched by `*` (decoded) or `#` (an id)."""


Render = Callable[[Request], Awaitable[str]]


def _static(name: str) -> bytes:
    return resources.files("ocppd.web").joinpath("static", name).read_bytes()


class WebApp:
    def __init__(self, api: ASGIApp) -> None:
        self.api = api
        self.static = {name: _static(name) for name in STATIC}
        self.pages: list[tuple[tuple[str, ...], Render]] = [
            ((), self._overview_page),
            (("login",), self._login_page),
            (("charge-points", "*"), self._charge_point_page),
            (("charge-points", "*", "smart-charging"), self._smart_charging_page),
            (("charge-points", "*", "jobs"), self._jobs_page),
            (("firmware",), self._firmware_page),
            (("transactions",), self._transactions_page),
            (("transactions", "#"), self._transaction_page),
            (("id-tags",), self._id_tags_page),
            (("reservations",), self._reservations_page),
            (("security-events",), self._security_events_page),
            (("sites",), self._sites_page),
            (("sites", "*"), self._site_page),
            (("certificates",), self._certificates_page),
            (("audit-log",), self._audit_log_page),
        ]
        self.fragments: list[tuple[tuple[str, ...], Render]] = [
            (("overview",), self._overview),
            (("charge-points", "*"), self._charge_point),
            (("charge-points", "*", "messages"), self._messages),
            (("charge-points", "*", "configuration"), self._configuration),
            (("charge-points", "*", "security-upgrade"), self._security_upgrade),
            (("charge-points", "*", "charging-profiles"), self._charging_profiles),
            (("charge-points", "*", "composite"), self._composite),
            (("charge-points", "*", "diagnostics"), self._diagnostics),
            (("charge-points", "*", "firmware-updates"), self._firmware_updates),
            (("charge-points", "*", "logs"), self._logs),
            (("charge-points", "*", "file-transport"), self._file_transport),
            (("firmware",), self._firmware),
            (("transactions",), self._transactions),
            (("transactions", "#"), self._transaction),
            (("id-tags",), self._id_tags),
            (("reservations",), self._reservations),
            (("security-events",), self._security_events),
            (("security-events", "critical"), self._critical_security_events),
            (("charge-points", "*", "security"), self._charge_point_security),
            (("sites",), self._sites),
            (("sites", "*"), self._site),
            (("sites", "*", "allocation"), self._allocation),
            (("certificate-authority",), self._certificate_authority),
            (("certificate-requests",), self._certificate_requests),
            (("certificate-requests", "pending"), self._pending_certificate_requests),
            (("audit-log",), self._audit_log),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: SendMessage) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _respond(send, 405, b"method not allowed", "text/plain; charset=utf-8")
            return
        path = _raw_path(scope)
        query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        parts = [p for p in path.split("/")[1:] if p] if path != "/" else []
        if parts[:1] == ["static"] and len(parts) == 2 and parts[1] in STATIC:
            await _respond(send, 200, self.static[parts[1]], STATIC[parts[1]], cache=True)
            return
        fragment = parts[:1] == ["fragments"]
        table = self.fragments if fragment else self.pages
        found = _match(table, parts[1:] if fragment else parts)
        if found is None:
            await _html(send, not_found_page(), 404)
            return
        render, args = found
        try:
            await _html(send, await render(Request(scope, query, args)))
        except ApiFailure as failure:
            error = failure.body.get("error", "") if isinstance(failure.body, dict) else ""
            await _html(send, problem_fragment(failure.status, str(error)), failure.status)

    # Pages

    async def _overview_page(self, r: Request) -> str:
        q = r.query
        return overview.overview_page(q.get("q", ""), q.get("state", ""), q.get("cursor", ""))

    async def _login_page(self, r: Request) -> str:
        return login_page()

    async def _charge_point_page(self, r: Request) -> str:
        q = r.query
        return charge_point.charge_point_page(
            r.args[0], q.get("action", ""), q.get("direction", ""), q.get("cursor", "")
        )

    async def _smart_charging_page(self, r: Request) -> str:
        return smart_charging.page(r.args[0], r.query)

    async def _jobs_page(self, r: Request) -> str:
        return jobs.page(r.args[0])

    async def _firmware_page(self, r: Request) -> str:
        return jobs.firmware_page()

    async def _certificates_page(self, r: Request) -> str:
        return certificates.page()

    async def _transactions_page(self, r: Request) -> str:
        return transactions.list_page(r.query)

    async def _transaction_page(self, r: Request) -> str:
        return transactions.detail_page(int(r.args[0]))

    async def _id_tags_page(self, r: Request) -> str:
        return id_tags.page(r.query)

    async def _sites_page(self, r: Request) -> str:
        return sites.list_page()

    async def _site_page(self, r: Request) -> str:
        return sites.page(r.args[0])

    async def _reservations_page(self, r: Request) -> str:
        return reservations.page(r.query)

    async def _security_events_page(self, r: Request) -> str:
        return security_events.page(r.query)

    async def _audit_log_page(self, r: Request) -> str:
        return audit_log.page(r.query)

    # Fragments

    async def _overview(self, r: Request) -> str:
        items: list[Any] = []
        cursor = None
        while len(items) < MAX_CHARGE_POINTS:
            params = {"limit": "1000"} | ({"cursor": cursor} if cursor else {})
            body = await self.need(r.scope, "/charge-points", params)
            items += body["items"]
            cursor = body.get("nextCursor")
            if not cursor:
                break
        q = r.query
        return overview.overview_fragment(
            items, q.get("q", ""), q.get("state", ""), q.get("cursor", "")
        )

    async def _charge_point(self, r: Request) -> str:
        identity = r.args[0]
        cp = await self.need(r.scope, "/charge-points/" + segment(identity))
        params = {"chargePointId": identity, "active": "true", "limit": str(RUNNING_SHOWN)}
        active = await self.need(r.scope, "/transactions", params)
        running = [
            await self.need(r.scope, f"/transactions/{t['transactionId']}", {"latest": "1"})
            for t in active["items"]
        ]
        return charge_point.charge_point_fragment(cp, running)

    async def _messages(self, r: Request) -> str:
        """A page of frames; when an answer on it has its call on the next page, the page
        goes on to that call (`message_log`)."""
        params = {"chargePointId": r.args[0]}
        params |= {k: r.query[k] for k in message_log.FILTERS if r.query.get(k)}
        page = await self.need(
            r.scope,
            "/messages",
            with_cursor(params, r.query) | {"limit": str(message_log.MESSAGES_SHOWN)},
        )
        frames, following = page["items"], page.get("nextCursor")
        # Filtered by direction, a page never holds a call and its answer: nothing to reach.
        wanted = set() if "direction" in params else message_log.calls_wanted(frames)
        if wanted and following:
            ahead = params | {"cursor": following, "limit": str(message_log.LOOKAHEAD)}
            older = await self.need(r.scope, "/messages", ahead)
            taken = message_log.reach(older["items"], wanted)
            if taken:
                frames = frames + older["items"][:taken]
                following = message_log.cursor_after(older, taken)
        return message_log.fragment(r.args[0], frames, following, r.query)

    async def _configuration(self, r: Request) -> str:
        identity = r.args[0]
        found = await self.need(r.scope, f"/charge-points/{segment(identity)}/configuration")
        return charge_point.configuration_fragment(identity, found)

    async def _security_upgrade(self, r: Request) -> str:
        path = f"/charge-points/{segment(r.args[0])}/security-upgrade"
        status, found = await self.get(r.scope, path)
        if status not in (200, 404):  # 404: none yet
            raise ApiFailure(status, found)
        return charge_point.security_upgrade_fragment(found if status == 200 else None)

    async def _charging_profiles(self, r: Request) -> str:
        path = f"/charge-points/{segment(r.args[0])}/charging-profiles"
        return smart_charging.profiles_fragment(await self.need(r.scope, path))

    async def _composite(self, r: Request) -> str:
        chosen = bool(smart_charging.window(r.query)["connectorId"])
        first = 0
        if not chosen:
            path = f"/charge-points/{segment(r.args[0])}/charging-profiles"
            first = smart_charging.first_with_profiles(await self.need(r.scope, path))
        path, params = smart_charging.api_paths(r.args[0], r.query, first)
        composite = await self.need(r.scope, path, params)
        checks = await self.need(
            r.scope, path + "/checks", {"limit": str(smart_charging.CHECKS_SHOWN)}
        )
        return smart_charging.composite_fragment(composite, checks["items"], chosen)

    async def _diagnostics(self, r: Request) -> str:
        return await self._jobs(r, "diagnostics")

    async def _firmware_updates(self, r: Request) -> str:
        return await self._jobs(r, "firmware-updates")

    async def _logs(self, r: Request) -> str:
        return await self._jobs(r, "logs")

    async def _file_transport(self, r: Request) -> str:
        cp = await self.need(r.scope, "/charge-points/" + segment(r.args[0]))
        return jobs.file_transport_fragment(cp)

    async def _jobs(self, r: Request, kind: str) -> str:
        path = f"/charge-points/{segment(r.args[0])}/{kind}"
        page = await self.need(r.scope, path, {"limit": str(jobs.JOBS_SHOWN)})
        return jobs.jobs_fragment(kind, page["items"])

    async def _firmware(self, r: Request) -> str:
        page = await self.need(r.scope, "/firmware", {"limit": "100"})
        return jobs.firmware_fragment(page["items"])

    async def _certificate_authority(self, r: Request) -> str:
        status, body = await self.get(r.scope, "/certificate-authority")
        if status == 404:
            return certificates.no_authority_fragment()
        if status != 200:
            raise ApiFailure(status, body)
        return certificates.authority_fragment(body)

    async def _certificate_requests(self, r: Request) -> str:
        shown = {"limit": str(certificates.RECENT_SHOWN)}
        page = await self.need(r.scope, "/certificate-requests", shown)
        return certificates.recent_fragment(page["items"])

    async def _pending_certificate_requests(self, r: Request) -> str:
        query = {"status": "pending", "limit": "1000"}
        page = await self.need(r.scope, "/certificate-requests", query)
        return certificates.pending_fragment(page["items"])

    async def _transactions(self, r: Request) -> str:
        page = await self.need(r.scope, "/transactions", transactions.api_params(r.query))
        return transactions.list_fragment(page["items"], page.get("nextCursor"), r.query)

    async def _transaction(self, r: Request) -> str:
        transaction = await self.need(r.scope, f"/transactions/{r.args[0]}")
        limits = None
        query = transactions.limits_query(transaction)
        if query is not None:
            status, composite = await self.get(r.scope, *query)
            limits = composite if status == 200 else None  # the chart goes on without
        return transactions.detail_fragment(transaction, limits)

    async def _id_tags(self, r: Request) -> str:
        page = await self.need(r.scope, "/id-tags", id_tags.api_params(r.query))
        return id_tags.fragment(page["items"], page.get("nextCursor"), r.query)

    async def _reservations(self, r: Request) -> str:
        page = await self.need(r.scope, "/reservations", reservations.api_params(r.query))
        highest = await self.need(r.scope, "/reservations", {"limit": "1"})
        top = highest["items"][0]["reservationId"] if highest["items"] else 0
        return reservations.fragment(
            page["items"], max(top, 0) + 1, page.get("nextCursor"), r.query
        )

    async def _security_events(self, r: Request) -> str:
        params = security_events.api_params(r.query)
        page = await self.need(r.scope, "/security-events", params)
        return security_events.list_fragment(page["items"], page.get("nextCursor"), r.query)

    async def _critical_security_events(self, r: Request) -> str:
        params = {"critical": "true", "limit": str(security_events.CRITICAL_SHOWN)}
        page = await self.need(r.scope, "/security-events", params)
        return security_events.critical_fragment(page["items"])

    async def _charge_point_security(self, r: Request) -> str:
        base = f"/charge-points/{segment(r.args[0])}"
        limit = {"limit": str(security_events.LATEST_SHOWN)}
        events = await self.need(r.scope, base + "/security-events", limit)
        certificates = await self.need(r.scope, base + "/installed-certificates")
        return security_events.charge_point_fragment(r.args[0], events["items"], certificates)

    async def _sites(self, r: Request) -> str:
        page = await self.need(r.scope, "/sites", {"limit": str(sites.LIST_LIMIT)})
        return sites.list_fragment(page["items"])

    async def _site(self, r: Request) -> str:
        return sites.site_fragment(await self.need(r.scope, sites.site_href(r.args[0])))

    async def _allocation(self, r: Request) -> str:
        path = sites.site_href(r.args[0]) + "/allocation"
        return sites.allocation_fragment(await self.need(r.scope, path))

    async def _audit_log(self, r: Request) -> str:
        page = await self.need(r.scope, "/audit-log", audit_log.api_params(r.query))
        return audit_log.fragment(page["items"], page.get("nextCursor"), r.query)

    # The API, in process

    async def need(self, scope: Scope, path: str, params: Mapping[str, str] | None = None) -> Any:
        """The body of a successful GET on the API; ApiFailure otherwise."""
        status, body = await self.get(scope, path, params)
        if status != 200:
            raise ApiFailure(status, body)
        return body

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


def _match(
    table: list[tuple[tuple[str, ...], Render]], parts: list[str]
) -> tuple[Render, list[str]] | None:
    """The route whose pattern fits the raw segments: `*` any (decoded), `#` an id."""
    for pattern, render in table:
        if len(pattern) != len(parts):
            continue
        args = []
        for want, got in zip(pattern, parts, strict=True):
            if want == "*":
                args.append(unquote(got))
            elif want == "#" and got.isdigit() and 0 < int(got) <= MAX_ID:
                args.append(str(int(got)))
            elif want != got:
                break
        else:
            return render, args
    return None


def _raw_path(scope: Scope) -> str:
    # The raw path keeps a `%2F` inside an identity apart from a `/` between segments.
    raw = scope.get("raw_path")
    return raw.decode("latin-1").split("?", 1)[0] if raw else quote(scope["path"])


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
