"""Who may call what: a bearer token's role against the role a route needs.

Routes say what they need in `opt={"role": ...}` (viewer when absent). No token, or one we
never issued, is 401; a role too low is 403.

A token's role (with its id and name, `Caller`: the audit log names it) is remembered:
looking it up in the database cost about 1 ms of server CPU per request (bench/api.py: a
command went from ~2.0 to ~0.8 ms of CPU). What is remembered is trusted for CHECKED_FOR
seconds; then one query asks whether the tokens changed (their
fingerprint: how many, the newest); a role learned under another fingerprint is forgotten: a
token was created or revoked since, by this process or another (`ocppd token revoke`, another
node). A role looked up costs the fingerprint's query too. So a revoked
token is refused within a second anywhere, at once through this process's API, for at most one
small query a second however many requests come.
"""

import time
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from ocppd.api import tokens
from ocppd.api.problems import Problem, ProblemException
from ocppd.api.tokens import Caller, Role
from ocppd.csms.central_system import CentralSystem

CHECKED_FOR = 1.0
MAX_REMEMBERED = 1024

Fingerprint = tuple[int, str]


class RoleCache:
    """Roles of tokens, each kept with the tokens' fingerprint it was learned under, and
    forgotten at the first check that finds another. (Compared with the fingerprint of the
    previous check instead, a token created, used and revoked between two checks would pass:
    one more, then one less, the newest as before.)"""

    def __init__(self) -> None:
        self._roles: dict[str, tuple[Caller, Fingerprint]] = {}
        self._checked_at = float("-inf")

    def needs_check(self) -> bool:
        return time.monotonic() - self._checked_at >= CHECKED_FOR

    def checked(self, tokens: Fingerprint) -> None:
        """The tokens as the database has them now: forget the roles learned under others."""
        if any(learned != tokens for _, learned in self._roles.values()):
            self._roles = {t: known for t, known in self._roles.items() if known[1] == tokens}
        self._checked_at = time.monotonic()

    def get(self, token: str) -> Caller | None:
        known = self._roles.get(token)
        return None if known is None else known[0]

    def put(self, token: str, caller: Caller, tokens: Fingerprint) -> None:
        """`caller`, read from the database after it had the fingerprint `tokens`."""
        if len(self._roles) >= MAX_REMEMBERED:
            self._roles.clear()  # rare: many live tokens; simply look them up again
        self._roles[token] = (caller, tokens)

    def clear(self) -> None:
        self._roles.clear()
        self._checked_at = float("-inf")


CALLER = "ocppd.caller"
"""The scope's key of the request's `Caller`, once the guard knows it."""

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ocppd"'}


def needs(role: Role) -> dict[str, Any]:
    """The route option that requires `role` (or higher)."""
    return {"role": role}


async def authorized(
    connection: ASGIConnection[Any, Any, Any, Any], route: BaseRouteHandler
) -> None:
    needed = Role(route.opt.get("role", Role.VIEWER))
    token = _bearer(connection.headers.get("authorization"))
    if token is None:
        raise ProblemException(Problem(status=401, error="a bearer token is required"), CHALLENGE)
    cache: RoleCache = connection.app.state.roles
    known = None if cache.needs_check() else cache.get(token)
    if known is None:
        system: CentralSystem = connection.app.state.system
        async with system.engine.connect() as db:
            now = await tokens.fingerprint(db)
            cache.checked(now)
            known = cache.get(token)
            if known is None:
                known = await tokens.caller_of(db, token)
                if known is not None:
                    cache.put(token, known, now)
    if known is None:
        raise ProblemException(Problem(status=401, error="unknown token"), CHALLENGE)
    scope: dict[str, Any] = connection.scope  # type: ignore[assignment]
    scope[CALLER] = known
    if not known.role.allows(needed):
        raise ProblemException(
            Problem(status=403, error=f"this needs the {needed} role; the token is {known.role}")
        )


def caller(scope: Any) -> Caller | None:
    """The token of a request the guard admitted or refused with 403 (None before, or for
    a request without a known token)."""
    found: Caller | None = scope.get(CALLER)
    return found


def _bearer(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None
