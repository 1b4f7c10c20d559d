"""Who may call what: a bearer token's role against the role a route needs.

Routes say what they need in `opt={"role": ...}` (viewer when absent). No token, or one we
never issued, is 401; a role too low is 403.
"""

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from ocppd.api import tokens
from ocppd.api.problems import Problem, ProblemException
from ocppd.api.tokens import Role
from ocppd.csms.central_system import CentralSystem

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
    system: CentralSystem = connection.app.state.system
    async with system.engine.connect() as db:
        role = await tokens.role_of(db, token)
    if role is None:
        raise ProblemException(Problem(status=401, error="unknown token"), CHALLENGE)
    if not role.allows(needed):
        raise ProblemException(
            Problem(status=403, error=f"this needs the {needed} role; the token is {role}")
        )


def _bearer(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None
