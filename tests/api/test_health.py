"""`GET /healthz` and `GET /readyz` over real HTTP: without a token, never cached; readyz 503
with the reason when the database cannot be reached, hangs, or its migrations are not at head,
and 200 again once it is back."""

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa

from ocppd.csms import readiness
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.database import create_engine
from ocppd.csms.settings import Settings
from tests.api.conftest import Api, api_app
from tests.cli.test_serve import Served
from tests.databases import POSTGRES_URL, administer, empty_postgres_database
from tests.servers import serving

__all__ = ["empty_postgres_database"]  # a fixture


async def probe(port: int, path: str, **headers: str) -> tuple[int, dict[str, str], Any]:
    def get() -> tuple[int, dict[str, str], Any]:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read())

    return await asyncio.to_thread(get)


async def head_request(port: int, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """HEAD over a raw socket read to its end: the status, the headers, and whatever bytes
    followed them (a client library would not read a body after HEAD)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"HEAD {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    answer = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    await writer.wait_closed()
    fields_part, _, rest = answer.partition(b"\r\n\r\n")
    status_line, *fields = fields_part.decode().split("\r\n")
    got = dict(field.lower().split(": ", 1) for field in fields)
    return int(status_line.split()[1]), got, rest


def same_headers(got: dict[str, str]) -> dict[str, str]:
    """The headers a HEAD answer shares with its GET's (not the date, nor how it was framed)."""
    ignored = {"date", "connection", "transfer-encoding"}
    return {name.lower(): value for name, value in got.items() if name.lower() not in ignored}


async def test_head_answers_like_get_without_a_body(api: Api) -> None:
    for path in ("/healthz", "/readyz"):
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            status, got, body = await head_request(api.port, path, **headers)
            get_status, get_headers, _ = await probe(api.port, path, **headers)
            assert (status, body) == (get_status, b""), path
            assert status == 200
            assert same_headers(got) == same_headers(get_headers), path
            assert got["cache-control"] == "no-store"


async def test_head_operations_are_documented_without_bodies(api: Api) -> None:
    _, _, document = await probe(api.port, "/api/v1/openapi.json")
    for path, statuses in (("/healthz", {"200"}), ("/readyz", {"200", "503"})):
        get, head = document["paths"][path]["get"], document["paths"][path]["head"]
        assert "security" not in head and head["operationId"] == "Head" + get["operationId"]
        assert set(head["responses"]) == set(get["responses"]) == statuses
        for status, answer in head["responses"].items():
            assert "content" not in answer and "content" in get["responses"][status]


async def test_probes_answer_without_a_token(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        status, got, body = await probe(api.port, "/healthz", **headers)
        assert (status, body) == (200, {"status": "alive"})
        assert got["cache-control"] == "no-store"
        status, got, body = await probe(api.port, "/readyz", **headers)
        assert (status, body) == (200, {"status": "ready"})
        assert got["cache-control"] == "no-store"


async def test_readyz_is_503_while_migrations_are_not_at_head(api: Api) -> None:
    head = readiness.migration_head()
    async with api.system.engine.begin() as db:
        await db.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
    status, got, body = await probe(api.port, "/readyz")
    assert status == 503 and got["cache-control"] == "no-store"
    assert body == {
        "status": "unavailable",
        "reason": f"migrations not at head: the database is at 0001, this ocppd needs {head}",
    }
    status, headers, rest = await head_request(api.port, "/readyz")
    assert (status, rest) == (503, b"") and same_headers(headers) == same_headers(got)
    async with api.system.engine.begin() as db:
        await db.execute(sa.text("ALTER TABLE alembic_version RENAME TO kept_aside"))
    status, _, body = await probe(api.port, "/readyz")
    assert status == 503
    assert body["reason"] == "the database holds no ocppd schema (no migration applied)"
    async with api.system.engine.begin() as db:
        await db.execute(sa.text("ALTER TABLE kept_aside RENAME TO alembic_version"))
        await db.execute(sa.text(f"UPDATE alembic_version SET version_num = '{head}'"))
    assert (await probe(api.port, "/readyz"))[0] == 200
    assert (await probe(api.port, "/healthz"))[0] == 200  # alive all along


@pytest.fixture
async def own_role_api(empty_postgres_database: str) -> AsyncIterator[Api]:
    """An API on a PostgreSQL database reached as a role of its own, which a test can lock out."""
    system = CentralSystem(Settings(), engine=create_engine(empty_postgres_database))
    await system.start()
    try:
        app = api_app(system)
        async with serving(system, app) as port:
            yield Api(system, port, app, {})
    finally:
        await system.stop()


async def test_readyz_is_503_while_the_database_cannot_be_reached(own_role_api: Api) -> None:
    role = own_role_api.system.engine.url.username
    assert (await probe(own_role_api.port, "/readyz"))[0] == 200
    await administer(
        f'alter role "{role}" nologin;'
        f"select pg_terminate_backend(pid) from pg_stat_activity where usename = '{role}'"
    )
    for _ in range(2):  # the pool's dead connection, then a refused new one
        status, _, body = await probe(own_role_api.port, "/readyz")
        assert (status, body["reason"]) == (503, "the database cannot be reached or read")
    assert (await probe(own_role_api.port, "/healthz"))[0] == 200
    await administer(f'alter role "{role}" login')
    status, _, body = await probe(own_role_api.port, "/readyz")
    assert (status, body) == (200, {"status": "ready"})


async def test_readyz_is_503_when_the_database_hangs(
    own_role_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readiness, "TIMEOUT", 0.5)
    role = own_role_api.system.engine.url.username
    locker = await asyncpg.connect(POSTGRES_URL)
    try:
        async with locker.transaction():
            await locker.execute(f'lock table "{role}".alembic_version in access exclusive mode')
            status, _, body = await probe(own_role_api.port, "/readyz")
            assert status == 503
            assert body["reason"] == "the database did not answer within 0.5 s"
    finally:
        await locker.close()
    status, _, body = await probe(own_role_api.port, "/readyz")
    assert (status, body) == (200, {"status": "ready"})


async def test_probes_while_the_database_hangs_share_one_query(
    own_role_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anyone may probe: while a query hangs, more probes wait for it rather than each take a
    connection of the pool."""
    monkeypatch.setattr(readiness, "TIMEOUT", 0.5)
    asked = 0
    revisions = readiness.Readiness._revisions

    async def counted(self: readiness.Readiness) -> list[str] | None:
        nonlocal asked
        asked += 1
        return await revisions(self)

    monkeypatch.setattr(readiness.Readiness, "_revisions", counted)
    role = own_role_api.system.engine.url.username
    locker = await asyncpg.connect(POSTGRES_URL)
    try:
        async with locker.transaction():
            await locker.execute(f'lock table "{role}".alembic_version in access exclusive mode')
            answers = await asyncio.gather(*(probe(own_role_api.port, "/readyz") for _ in range(6)))
            assert [status for status, _, _ in answers] == [503] * 6
            assert asked == 1
    finally:
        await locker.close()
    status, _, body = await probe(own_role_api.port, "/readyz")
    assert (status, body) == (200, {"status": "ready"})


@pytest.mark.slow
async def test_probes_of_ocppd_serve_and_their_documentation(tmp_path: Path) -> None:
    """`ocppd serve` answers them beside the dashboard; the OpenAPI document declares them
    with their real answers and no security."""
    served = Served(tmp_path)
    try:
        status, _, alive = await probe(served.port, "/healthz")
        assert (status, alive) == (200, {"status": "alive"})
        status, _, ready = await probe(served.port, "/readyz")
        assert (status, ready) == (200, {"status": "ready"})
        _, _, document = await probe(served.port, "/api/v1/openapi.json")
    finally:
        served.stop()
    for path in ("/healthz", "/readyz"):
        operation = document["paths"][path]["get"]
        assert "security" not in operation and "security" not in document, path
    responses = document["paths"]["/readyz"]["get"]["responses"]
    assert set(responses) == {"200", "503"}
    not_ready = document["components"]["schemas"]["NotReady"]
    assert not_ready["required"] == ["reason", "status"]
