"""Who the caller is: `GET /api/v1/me`, the token's id, name and role (any role).

The dashboard reads it to hide what the token may not do (a viewer sees no command forms);
the API still refuses such calls with 403, so hiding is a courtesy, not the protection.
"""

from typing import Any

import msgspec
import sqlalchemy as sa
from litestar import Request, get

from ocppd.api.problems import Problem, ProblemException, documented
from ocppd.api.system import System
from ocppd.api.tokens import Role, digest
from ocppd.csms.models import api_tokens


class Me(msgspec.Struct, rename="camel", kw_only=True):
    token_id: int
    name: str
    role: Role


@get("/me", tags=["tokens"], responses=documented())
async def me(system: System, request: Request[Any, Any, Any]) -> Me:
    """The token this request carries: its id, name and role."""
    # The guard admitted the request, so the header holds a bearer token.
    token = request.headers["authorization"].partition(" ")[2].strip()
    t = api_tokens.c
    async with system.engine.connect() as db:
        row = (
            await db.execute(sa.select(t.id, t.name, t.role).where(t.token_hash == digest(token)))
        ).first()
    if row is None:  # revoked between the guard's cached check and now
        raise ProblemException(Problem(status=401, error="unknown token"))
    return Me(token_id=row.id, name=row.name, role=Role(row.role))


ROUTES = [me]
