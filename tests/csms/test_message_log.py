"""The message log against hostile chargers (issue 17), over real sockets, on SQLite and
PostgreSQL: no value a charger sends fails the write that carries every charger's frames, a row
that fails anyway fails alone, the AuthorizationKey never shows, and one charger cannot fill
the disk."""

import asyncio
import hashlib
from datetime import timedelta
from typing import Any, cast

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection

from ocppd.csms import models
from ocppd.csms.authorization_key import REDACTED
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.group_commit import GroupCommit
from ocppd.csms.message_log import SWEEP_AT_LEAST, MessageLog
from tests.csms.conftest import FixedClock, RunningServer
from tests.csms.test_stored_text import call, chargers


async def logged(system: CentralSystem, charge_point_id: str) -> list[Any]:
    await system.writer.flush()
    m = models.messages.c
    query = (
        sa.select(m.direction, m.message_type, m.action, m.unique_id, m.payload)
        .where(m.charge_point_id == charge_point_id)
        .order_by(m.id)
    )
    async with system.engine.connect() as connection:
        return list((await connection.execute(query)).mappings())


async def exchange(ws: ClientConnection, frames: list[str]) -> list[Any]:
    answers = []
    for frame in frames:
        await ws.send(frame)
        answers.append(msgspec.json.decode(await asyncio.wait_for(ws.recv(), 5)))
    return answers


# 1. One charger poisoning everyone's log


async def test_an_overlong_action_poisons_no_ones_log(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A booted charger repeats a CALL of a 65-character action (answered NotImplemented)
    while another sends heartbeats: their log rows share writes. Both chargers' frames are all
    logged, the action cut to its column (64), and no commit failed."""
    system = server.system
    action = "A" * 65
    async with chargers(server, "POISON", "VICTIM") as (poison, victim):
        poisoned, beats = await asyncio.gather(
            exchange(poison, [call(f"p{i}", action, {}) for i in range(20)]),
            exchange(victim, [call(f"h{i}", "Heartbeat", {}) for i in range(20)]),
        )
        assert {answer[2] for answer in poisoned} == {"NotImplemented"}
        assert all(answer[0] == 3 for answer in beats)
        victims = await logged(system, "VICTIM")
        poisons = await logged(system, "POISON")
    assert len(victims) == 2 * (1 + 20)  # the boot and the heartbeats, in and out
    assert len(poisons) == 2 * (1 + 20)
    assert {row["action"] for row in poisons[2:]} == {"A" * 64}
    sent = [call(f"p{i}", action, {}) for i in range(20)]
    assert [row["payload"] for row in poisons[2::2]] == sent
    failures = [r for r in caplog.records if r.name == "ocppd.csms.storage"]
    assert not failures, "a commit failed"


def frame_row(charge_point_id: str, payload: str | None) -> tuple[Any, dict[str, Any]]:
    from datetime import UTC, datetime

    row = {
        "charge_point_id": charge_point_id,
        "direction": "in",
        "message_type": 2,
        "action": "Heartbeat",
        "unique_id": "1",
        "payload": payload,
        "at": datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
    }
    return models.messages, row


async def test_a_row_that_fails_anyway_fails_alone_in_a_few_commits(engine: AsyncEngine) -> None:
    """64 chargers' writes and 50 frames' log rows (one write nobody waits for) in one batch;
    one log row the database refuses (here a NULL payload stands for anything that slipped
    through). The batch is committed again in halves: the bad row alone is lost, every other
    write and row is stored, and it took a few commits more, not one per write (65)."""
    writer = GroupCommit(engine)
    try:
        writes = [
            asyncio.ensure_future(writer.commit([frame_row(f"CP{i}", "[]")])) for i in range(64)
        ]
        later = [frame_row(f"LOG{i}", None if i == 37 else "[]") for i in range(50)]
        writer.insert_later(later)
        await asyncio.sleep(0)
        writer.start()
        await asyncio.gather(*writes)
        await writer.flush()
        async with engine.connect() as connection:
            stored = set(await connection.scalars(sa.select(models.messages.c.charge_point_id)))
        assert stored == {f"CP{i}" for i in range(64)} | {f"LOG{i}" for i in range(50)} - {"LOG37"}
        # One batch, then halves down to the bad write (7 levels of 65) and its rows (6 of 50).
        assert writer.attempts <= 1 + 2 * 7 + 2 * 6, writer.attempts
    finally:
        await writer.stop()


# 6. The AuthorizationKey


async def test_the_authorization_key_never_reaches_the_log(server: RunningServer) -> None:
    """A GetConfiguration answer carrying the AuthorizationKey (in any case), a
    ChangeConfiguration of it, and an answer to nothing asked (logged without an action)
    that carries it: the log shows every frame with the key's value hidden (the API and
    the dashboard show the log: tests/api/test_configuration.py)."""
    from ocppd.protocol import messages as m

    system = server.system
    secret = "0011223344556677889900aabbccddeeff"
    async with chargers(server, "CP1") as (ws,):
        got = asyncio.ensure_future(system.call("CP1", m.GetConfigurationRequest()))
        request = msgspec.json.decode(await asyncio.wait_for(ws.recv(), 5))
        keys = [
            {"key": "AuthorizationKey", "readonly": False, "value": secret},
            {"key": "authorizationkey", "readonly": False, "value": secret + "2"},
            {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
        ]
        await ws.send(msgspec.json.encode([3, request[1], {"configurationKey": keys}]).decode())
        await got
        change = m.ChangeConfigurationRequest(key="AuthorizationKey", value=secret + "3")
        changed = asyncio.ensure_future(system.call("CP1", change))
        request = msgspec.json.decode(await asyncio.wait_for(ws.recv(), 5))
        await ws.send(msgspec.json.encode([3, request[1], {"status": "Rejected"}]).decode())
        await changed
        stray = [3, "nobody-asked", {"configurationKey": [{"key": "AUTHORIZATIONKEY",
                                                            "value": secret + "4"}]}]  # fmt: skip
        await ws.send(msgspec.json.encode(stray).decode())
        await exchange(ws, [call("h", "Heartbeat", {})])  # read after the stray answer
        rows = await logged(system, "CP1")
    assert len(rows) == 2 + 5 + 2
    assert not [row for row in rows if secret in row["payload"]], rows
    answer = msgspec.json.decode(rows[3]["payload"])
    assert [key.get("value") for key in answer[2]["configurationKey"]] == [
        REDACTED,
        REDACTED,
        "300",
    ]
    assert msgspec.json.decode(rows[6]["payload"])[2]["configurationKey"][0]["value"] == REDACTED


# 10. A budget per charger


async def test_a_charger_over_its_budget_is_logged_as_sizes_and_hashes(
    server: RunningServer, clock: FixedClock
) -> None:
    """With a budget of 10,000 characters an hour, a charger sending frames of 3,000: every
    frame is answered; the first ones are logged whole, then as their size and SHA-256, and
    whole again in the next hour."""
    system = server.system
    system.message_log.budget_size = 10_000
    big = {"vendorId": "acme", "data": "x" * 3000}
    async with chargers(server, "BIG") as (ws,):
        frames = [call(f"d{i}", "DataTransfer", big) for i in range(8)]
        answers = await exchange(ws, frames)
        clock.now += timedelta(hours=1)
        answers += await exchange(ws, [frames[0]])
        rows = await logged(system, "BIG")
    assert [answer[2] for answer in answers] == [{"status": "UnknownVendorId"}] * 9
    incoming = [row["payload"] for row in rows if row["direction"] == "in"][1:]
    whole = [payload for payload in incoming if payload in frames]
    assert len(whole) == 3 + 1  # 3 x 3,000 fit with the boot and the answers; the next hour
    assert incoming[-1] == frames[0]
    for payload, frame in zip(incoming[3:8], frames[3:8], strict=True):
        assert msgspec.json.decode(payload) == {
            "omitted": "over the charge point's message log budget",
            "size": len(frame),
            "sha256": hashlib.sha256(frame.encode()).hexdigest(),
        }
    assert sum(len(row["payload"]) for row in rows) < 10_000 + 3_000 + 6 * 200


def test_the_budgets_kept_are_bounded_by_the_chargers_of_the_hour() -> None:
    """Budgets are kept per identity across connections (a charger cannot reset its budget by
    reconnecting), but not for ever: with open registration every new identity adds one. Those
    of chargers not connected whose hour has ended are forgotten; a connected charger's, and
    one within its hour, are kept."""
    clock = FixedClock()
    connected: set[str] = {"LIVE"}
    writer = cast(GroupCommit, None)  # budgets are kept without writing anything
    message_log = MessageLog(writer, clock, budget_size=100, connected=connected)
    live = message_log.observer("LIVE").budget
    first = message_log.observer("NEW0").budget
    flood = 5 * SWEEP_AT_LEAST  # new identities, ten a minute
    for n in range(1, flood):
        message_log.observer(f"NEW{n}")
        if n % 10 == 0:
            clock.now += timedelta(minutes=1)
    recent = message_log.observer(f"NEW{flood - 5}").budget
    assert recent is not None
    recent.left = 0  # used up within its hour, then disconnected
    for n in range(flood, flood + SWEEP_AT_LEAST):  # another sweep or more
        message_log.observer(f"NEW{n}")
    assert message_log.budgets_kept <= 2 * (60 * 10 + SWEEP_AT_LEAST + 2)
    assert message_log.observer("LIVE").budget is live  # connected: kept though its hour ended
    assert message_log.observer(f"NEW{flood - 5}").budget is recent  # still used up
    assert message_log.observer("NEW0").budget is not first  # forgotten: a new one
