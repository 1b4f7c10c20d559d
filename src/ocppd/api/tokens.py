"""Bearer tokens of the API and their roles: viewer < operator < admin.

A token is 32 random bytes, shown once. Only its SHA-256 is stored: with that much entropy
neither a salt nor a slow hash adds anything, and an unsalted digest can be looked up by
index on every request.
"""

import hashlib
import secrets
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import msgspec
import sqlalchemy as sa
from litestar import delete, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.api.problems import Problem, ProblemException, documented
from ocppd.api.system import System
from ocppd.csms.clock import as_utc, utc_now
from ocppd.csms.models import api_tokens

PREFIX = "ocppd_"
MAX_NAME = 255
"""The name column's length."""


class Role(StrEnum):
    VIEWER = "viewer"
    """Reads everything."""
    OPERATOR = "operator"
    """Also sends commands and manages id tags."""
    ADMIN = "admin"
    """Also registers charge points and manages tokens."""

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: "Role") -> bool:
        return self.rank >= needed.rank


class Token(msgspec.Struct, rename="camel", kw_only=True):
    id: int
    name: str
    role: Role
    created_at: datetime


class NewToken(Token, kw_only=True):
    token: str
    """The secret itself: shown this once, never again."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create(connection: AsyncConnection, role: Role, name: str = "") -> NewToken:
    secret = PREFIX + secrets.token_urlsafe(32)
    now = utc_now()
    token_id = await connection.scalar(
        api_tokens.insert()
        .values(name=name, role=role.value, token_hash=digest(secret), created_at=now)
        .returning(api_tokens.c.id)
    )
    return NewToken(id=int(token_id), name=name, role=role, created_at=now, token=secret)


class Caller(msgspec.Struct, frozen=True):
    """Who a presented token is: what the guard learns, and the audit log records."""

    token_id: int
    name: str
    role: Role


async def caller_of(connection: AsyncConnection, token: str) -> Caller | None:
    """The token presented, or None for a token we never issued."""
    t = api_tokens.c
    row = (
        await connection.execute(
            sa.select(t.id, t.name, t.role).where(t.token_hash == digest(token))
        )
    ).first()
    return None if row is None else Caller(int(row.id), row.name, Role(row.role))


async def fingerprint(connection: AsyncConnection) -> tuple[int, str]:
    """What changes whenever a token is created or revoked, by any process: how many there
    are and when the newest was made (a revoke lowers the count, a creation the newest)."""
    row = (
        await connection.execute(
            sa.select(sa.func.count(), sa.func.max(api_tokens.c.created_at)).select_from(api_tokens)
        )
    ).one()
    return int(row[0]), str(row[1])


async def listed(connection: AsyncConnection) -> list[Token]:
    rows = await connection.execute(
        sa.select(
            api_tokens.c.id, api_tokens.c.name, api_tokens.c.role, api_tokens.c.created_at
        ).order_by(api_tokens.c.id)
    )
    found = []
    for row in rows:
        created_at = as_utc(row.created_at)
        assert created_at is not None  # NOT NULL
        found.append(Token(id=row.id, name=row.name, role=Role(row.role), created_at=created_at))
    return found


async def revoke(connection: AsyncConnection, token_id: int) -> bool:
    result = await connection.execute(api_tokens.delete().where(api_tokens.c.id == token_id))
    return bool(result.rowcount)


class TokenRequest(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    role: Role
    name: Annotated[str, msgspec.Meta(max_length=MAX_NAME)] = ""


@post("/tokens", tags=["tokens"], opt={"role": Role.ADMIN}, responses=documented())
async def create_token(system: System, data: JSONBody[TokenRequest]) -> NewToken:
    """A new token; the `token` field is the secret, shown this once."""
    async with system.engine.begin() as db:
        return await create(db, data.role, data.name)


@get("/tokens", tags=["tokens"], opt={"role": Role.ADMIN}, responses=documented())
async def list_tokens(system: System) -> list[Token]:
    async with system.engine.connect() as db:
        return await listed(db)


@delete(
    "/tokens/{tokenId:int}", tags=["tokens"], opt={"role": Role.ADMIN}, responses=documented(404)
)
async def revoke_token(
    system: System,
    state: State,
    token_id: Annotated[int, PathParameter(name="tokenId", ge=1, le=2**63 - 1)],
) -> None:
    async with system.engine.begin() as db:
        if not await revoke(db, token_id):
            raise ProblemException(Problem(status=404, error=f"unknown token {token_id}"))
    state.roles.clear()  # the remembered roles (ocppd.api.auth): revoked means now


ROUTES = [create_token, list_tokens, revoke_token]
