"""The operators' audit log (`csms/audit_log.py`): every mutating request under /api/v1 is
recorded, generically, by two hooks, so a route added later is covered without a word of
its own; and `GET /api/v1/audit-log` reads it (admin only).

- `attempted` (part of the API router's before-request hook, after the guard and the checks
  of `operator_input`): the entry is written before the route runs. If it cannot be, the
  request is refused 503 and not carried out (fail closed: a change the log cannot name is
  not made; an audit log that silently loses entries cannot be trusted).
- `before_send` (the app's hook on every ASGI message): the outcome (status, a command's
  answer status or the Problem's error, a few fields of the answer) is written before the
  answer's body goes out, so whoever has the answer finds it logged. A request refused before
  the route ran (403: a role too low; 400: the checks) is written whole there. A failure to
  write the outcome is logged and leaves the entry's outcome unknown; the answer goes out
  (the change was made).

Requests without a known token (none, an unknown one: 401) and requests no route matches
(404, 405 before the guard) are not recorded: there is nobody to name, and anyone could fill
the table. What a request is about: its route, the handler's name as the operation (a
command's is its action), the charge point of the path, and a summary of the path and query
parameters and of a JSON body (secrets redacted, `audit_log.summary`); a route whose path
names no charge point takes the one its successful answer names. An upload's bytes are never
read for it.
"""

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import parse_qs

import msgspec
import sqlalchemy as sa
from litestar import Request, get
from litestar.params import FromQuery, QueryParameter
from litestar.types import Empty
from litestar.utils.scope.state import ScopeState

from ocppd.api import auth
from ocppd.api.operator_input import DATE_TIMES, utc
from ocppd.api.pages import IdCursor, Limit, newest_first, next_cursor
from ocppd.api.problems import Problem, ProblemException, documented
from ocppd.api.system import System
from ocppd.api.tokens import MAX_NAME, Role
from ocppd.csms import audit_log
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.clock import as_utc
from ocppd.csms.models import MAX_STORED_INTEGER
from ocppd.csms.models import audit_log as table

log = logging.getLogger("ocppd.api")

PREFIX = "/api/v1/"
AUDITED = frozenset({"POST", "PUT", "PATCH", "DELETE"})
STATE = "ocppd.audit"
"""The scope's key of a recorded request's `Recording`."""
MAX_ANSWER = 64 * 1024
"""Answers longer than this are not read for their fields (only the status is kept)."""
ANSWER_FIELDS = ("status", "id", "fileName")
"""What an entry keeps of a successful answer: a command's answer status, a created id."""
PROBLEM_FIELDS = ("error", "field", "reason", "code", "description")
"""What it keeps of a Problem (its `details` can echo anything a charger sent)."""
UNAVAILABLE = "not done: the audit log cannot be written (the database failed)"


@dataclass
class Recording:
    """A mutating request on its way: its entry (written already, or to write whole once the
    answer is known) and what the answer says."""

    entry: audit_log.Entry
    entry_id: int | None = None
    status: int | None = None
    body: bytearray = field(default_factory=bytearray)
    done: bool = False


async def attempted(request: Request[Any, Any, Any]) -> None:
    """Write the entry of a mutating request before its route runs; 503 when it cannot be."""
    scope: Any = request.scope
    if scope["method"] not in AUDITED:
        return
    if "data" in request.route_handler.parsed_fn_signature.parameters:
        await request.body()  # kept by the request (the checks read it already)
    recording = _recording(scope)
    if recording is None:
        return
    system: CentralSystem = request.app.state.system
    try:
        async with system.engine.begin() as db:
            recording.entry_id = await audit_log.begin(db, system.clock(), recording.entry)
    except Exception:  # whatever failed: nothing is done without its entry
        log.exception("%s %s refused: its audit entry cannot be written", *_what(scope))
        recording.done = True
        raise ProblemException(Problem(status=503, error=UNAVAILABLE)) from None


async def before_send(message: Any, scope: Any) -> None:
    """The app's before-send hook: the outcome of a recorded request, before its body. Never
    fails the answer: a defect of ours here is logged, the answer goes out."""
    try:
        await _before_send(message, scope)
    except Exception:
        method, path = _what(scope)
        log.exception("%s %s: its audit entry failed", method, path)
        recording = scope.get(STATE)
        if recording is not None:
            recording.done = True


async def _before_send(message: Any, scope: Any) -> None:
    if message["type"] == "http.response.start":
        recording = _recording(scope)
        if recording is not None:
            recording.status = message["status"]
        return
    recording = scope.get(STATE)
    if message["type"] != "http.response.body" or recording is None or recording.done:
        return
    # Kept up to one byte past the bound: enough to know an answer is too long to summarise.
    room = MAX_ANSWER + 1 - len(recording.body)
    if room > 0:
        recording.body += message.get("body", b"")[:room]
    if message.get("more_body", False):
        return
    recording.done = True
    await _write_outcome(scope["litestar_app"].state.system, recording, scope)


def _recording(scope: Any) -> Recording | None:
    """The request's recording; started for a mutating request under /api/v1 whose token is
    known (None otherwise: nothing to record)."""
    recording: Recording | None = scope.get(STATE)
    if recording is not None:
        return recording
    if scope.get("type") != "http" or scope.get("method") not in AUDITED:
        return None
    caller = auth.caller(scope)
    if caller is None or not scope.get("path", "").startswith(PREFIX):
        return None
    actor = audit_log.Actor(caller.token_id, caller.name, caller.role.value)
    recording = scope[STATE] = Recording(_entry(scope, actor))
    return recording


def _entry(scope: Any, actor: audit_log.Actor) -> audit_log.Entry:
    handler = scope.get("route_handler")
    params = scope.get("path_params") or {}
    charge_point = params.get("chargePointId")
    return audit_log.Entry(
        actor=actor,
        method=scope["method"],
        route=_template(scope),
        operation=getattr(handler, "handler_name", "") or "",
        charge_point_id=charge_point if isinstance(charge_point, str) else None,
        request=_request_summary(scope, params),
    )


def _template(scope: Any) -> str:
    """The route's path as declared, without the parameters' types (`{idTag}`)."""
    template = scope.get("path_template") or scope.get("path", "")
    return "/".join(
        part.split(":", 1)[0] + "}" if part.startswith("{") and ":" in part else part
        for part in str(template).split("/")
    )


def _request_summary(scope: Any, params: dict[str, Any]) -> Any:
    summary: dict[str, Any] = {}
    if params:
        summary["path"] = params
    query = parse_qs(scope.get("query_string", b"").decode(errors="replace"), True)
    if query:
        summary["query"] = {k: v[0] if len(v) == 1 else v for k, v in query.items()}
    body = ScopeState.from_scope(scope).body
    if body is not Empty and body:
        summary["body"] = _body(body)
    return audit_log.summary(summary)


def _body(body: bytes) -> Any:
    try:
        body.decode()
    except UnicodeDecodeError:
        return f"not UTF-8 ({len(body)} bytes)"
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return f"not JSON ({len(body)} bytes)"


async def _write_outcome(system: CentralSystem, recording: Recording, scope: Any) -> None:
    status = recording.status or 500
    document = _document(recording.body)
    result, response = _answer(status, document)
    outcome = audit_log.outcome_of(status)
    charge_point = recording.entry.charge_point_id or _answers_charge_point(status, document)
    try:
        async with system.engine.begin() as db:
            if recording.entry_id is None:
                entry = replace(recording.entry, charge_point_id=charge_point)
                await audit_log.record(db, system.clock(), entry, status, outcome, result, response)
            else:
                await audit_log.finish(
                    db, recording.entry_id, status, outcome, result, response, charge_point
                )
    except Exception:  # the answer goes out: the change is made, its outcome stays unknown
        log.exception(
            "%s %s answered %d: its audit outcome cannot be written", *_what(scope), status
        )


def _document(body: bytes | bytearray) -> dict[str, Any] | None:
    """The answer's JSON object, once; None when it is empty, too long, or not one."""
    if not body or len(body) > MAX_ANSWER:
        return None
    try:
        document = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _answer(status: int, document: dict[str, Any] | None) -> tuple[str | None, Any]:
    """What an entry keeps of an answer: a short result (a command's answer status, a
    Problem's error) and a few of its fields."""
    if document is None:
        return None, None
    wanted = ANSWER_FIELDS if status < 400 else PROBLEM_FIELDS
    kept = {k: document[k] for k in wanted if isinstance(document.get(k), str | int)}
    result = kept.get("status") if status < 400 else kept.get("error")
    return (result if isinstance(result, str) else None), (audit_log.summary(kept) or None)


def _answers_charge_point(status: int, document: dict[str, Any] | None) -> str | None:
    """The charge point a successful answer names, for a route whose path names none (a
    certificate request approved or rejected: the charger it was signed for)."""
    if status >= 400 or document is None:
        return None
    named = document.get("chargePointId")
    return named if isinstance(named, str) else None


def _what(scope: Any) -> tuple[str, str]:
    return scope.get("method", ""), scope.get("path", "")


# Reading it


class Outcome(StrEnum):
    SUCCEEDED = audit_log.SUCCEEDED
    """2xx: done (a command: the charger answered; `result` is its answer's status)."""
    REFUSED = audit_log.REFUSED
    """4xx: not done (a role too low, an invalid request, a charger not connected...)."""
    FAILED = audit_log.FAILED
    """5xx: the charger answered with an error or not at all, or ocppd failed."""
    UNKNOWN = "unknown"
    """Not written: the request was still running, or its outcome could not be written."""


class AuditEntry(msgspec.Struct, rename="camel", kw_only=True):
    id: int
    at: datetime
    token_id: int | None
    """The token's id; null for the command line (role `cli`)."""
    actor: str
    """The token's name, or the OS user of a command line entry."""
    role: str
    """viewer, operator, admin, or cli."""
    method: str
    """POST, PUT, PATCH, DELETE; CLI for the command line."""
    route: str
    """The API route (`/api/v1/id-tags/{idTag}`), or the command (`ocppd token create`)."""
    operation: str
    """What was asked: the route's handler (`put_id_tag`, `revoke_token`) or a command's
    action (`RemoteStartTransaction`)."""
    charge_point_id: str | None
    request: Any
    """A summary of the request: its `path` and `query` parameters and JSON `body`, secrets
    redacted (`<redacted>`), long strings and lists cut."""
    status: int | None
    """The HTTP status answered; null for the command line, or when not known."""
    outcome: Outcome
    result: str | None
    """The answer's `status` (a command's: the charger's answer, `Accepted`; a resource's,
    such as an id tag's), or the Problem's error."""
    response: Any
    """A few fields of the answer (`status`, `id`), or of the Problem."""


class AuditPage(msgspec.Struct, rename="camel", kw_only=True):
    items: list[AuditEntry]
    next_cursor: str | None


@get(
    "/audit-log",
    tags=["audit log"],
    opt={**auth.needs(Role.ADMIN), DATE_TIMES: ("since", "until")},
    responses=documented(),
)
async def list_audit_log(
    system: System,
    limit: Limit = 100,
    cursor: IdCursor = None,
    actor: Annotated[
        str | None,
        QueryParameter(max_length=MAX_NAME, description="The token's name (or the OS user)."),
    ] = None,
    token_id: Annotated[
        int | None, QueryParameter(name="tokenId", ge=1, le=MAX_STORED_INTEGER)
    ] = None,
    charge_point_id: Annotated[
        str | None, QueryParameter(name="chargePointId", max_length=audit_log.IDENTITY_LENGTH)
    ] = None,
    operation: Annotated[str | None, QueryParameter(max_length=audit_log.OPERATION_LENGTH)] = None,
    outcome: FromQuery[Outcome | None] = None,
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
) -> AuditPage:
    """What operators changed or tried to, newest first (admin only)."""
    a = table.c
    query = newest_first(table, a.id, limit, cursor)
    for column, value in (
        (a.actor, actor),
        (a.token_id, token_id),
        (a.charge_point_id, charge_point_id),
        (a.operation, operation),
    ):
        if value is not None:
            query = query.where(column == value)
    if outcome is Outcome.UNKNOWN:
        query = query.where(a.outcome.is_(None))
    elif outcome is not None:
        query = query.where(a.outcome == outcome.value)
    if since is not None:
        query = query.where(a.at >= utc("since", since))
    if until is not None:
        query = query.where(a.at < utc("until", until))
    async with system.engine.connect() as db:
        rows = (await db.execute(query)).all()
    return AuditPage(
        items=[_listed(row) for row in rows[:limit]],
        next_cursor=next_cursor([str(row.id) for row in rows], limit),
    )


def _listed(row: sa.Row[Any]) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=as_utc(row.at),
        token_id=row.token_id,
        actor=row.actor,
        role=row.role,
        method=row.method,
        route=row.route,
        operation=row.operation,
        charge_point_id=row.charge_point_id,
        request=_decoded(row.request),
        status=row.status,
        outcome=Outcome(row.outcome or Outcome.UNKNOWN),
        result=row.result,
        response=None if row.response is None else _decoded(row.response),
    )


def _decoded(text: str) -> Any:
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return text


ROUTES = [list_audit_log]
