"""Error responses: one JSON shape for every failure, so scripts read one thing.

`{"status": 400, "error": "...", ...}` plus, where they apply, the offending `field` and the
`reason`, or the charge point's CALLERROR `code`, `description` and `details`.
"""

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from ocppd.protocol.errors import PayloadError

log = logging.getLogger("ocppd.api")


class Problem(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    status: int
    error: str
    field: str | None = None
    """The JSON path of the offending field (`$.connectorId`)."""
    reason: str | None = None
    code: str | None = None
    """An OCPP error code: what the payload violates, or what the charge point answered."""
    description: str | None = None
    details: dict[str, Any] | None = None


class ProblemException(HTTPException):
    """Raised by a handler to answer with a Problem."""

    def __init__(self, problem: Problem, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=problem.status, detail=problem.error, headers=headers)
        self.problem = problem


MEANINGS = {
    400: "Invalid request: the field and the reason",
    401: "No bearer token, or one never issued",
    403: "The token's role is below what the route needs",
    404: "Not found",
    409: "The charge point is not connected, or its boot status forbids the command "
    "(Pending: no RemoteStart/RemoteStopTransaction; Rejected: none without force=true)",
    410: "Gone: kept for a while, then deleted (diagnostics files: diagnostics_retention_days)",
    413: "The file is larger than the server's max_file_size",
    502: "The charge point answered with a CALLERROR (code, description, details), or with "
    "an invalid response (field, reason)",
    503: "The cluster's Redis cannot be reached, or no node drives the sites while one is "
    "being elected (the reason), and what was asked needs another node of the cluster (only "
    "with --redis-url)",
    504: "The charge point did not answer in time",
}


def documented(*statuses: int) -> dict[int, ResponseSpec]:
    """The OpenAPI entries of the Problems a route answers with (401 and 403: every route)."""
    return {
        status: ResponseSpec(Problem, description=MEANINGS[status])
        for status in sorted({400, 401, 403, *statuses})
    }


def created(resource: type[Any]) -> dict[int, ResponseSpec]:
    """The OpenAPI entry of a PUT's 201: the resource did not exist and now does (200 when
    it replaced one)."""
    return {201: ResponseSpec(resource, description="Created: there was none")}


def respond(problem: Problem, headers: dict[str, str] | None = None) -> Response[Problem]:
    return Response(problem, status_code=problem.status, headers=headers)


def on_problem(_: Request[Any, Any, Any], exc: ProblemException) -> Response[Problem]:
    return respond(exc.problem, exc.headers)


def on_invalid_payload(_: Request[Any, Any, Any], exc: PayloadError) -> Response[Problem]:
    """An OCPP request body that its schema refuses: nothing was sent."""
    return respond(
        Problem(
            status=400,
            error=f"invalid payload: {exc.description}",
            field=exc.path,
            reason=exc.reason,
            code=exc.code.value,
        )
    )


def on_validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Problem]:
    problem = Problem(status=400, error=exc.detail)
    if isinstance(exc.extra, list) and exc.extra and isinstance(exc.extra[0], dict):
        first = exc.extra[0]
        problem.field = str(first.get("key") or "") or None
        problem.reason = str(first.get("message") or "") or None
        if problem.field and problem.reason:
            problem.error = f"{problem.field}: {problem.reason}"
    return respond(problem)


def on_http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    return respond(Problem(status=exc.status_code, error=exc.detail), exc.headers)


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return respond(Problem(status=500, error="internal error"))


HANDLERS: dict[int | type[Exception], Any] = {
    ProblemException: on_problem,
    PayloadError: on_invalid_payload,
    ValidationException: on_validation,
    HTTPException: on_http,
    Exception: on_unexpected,
}
