"""A NUL in the strings a charger sends, over real sockets, on SQLite and PostgreSQL.

JSON and the schemas allow "\\u0000" in any string; PostgreSQL's text cannot hold it. Every such
message gets the answer it would get without the NUL (an idTag with one is unknown), what it
carries is stored (NUL as U+FFFD on PostgreSQL, as is on SQLite), and the other chargers'
messages committed in the same batch are answered and stored as usual.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.dialects.sqlite import aiosqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from ocppd.csms import models
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.clock import as_utc
from ocppd.csms.settings import RegistrationPolicy
from ocppd.protocol.leniency import Rule
from tests.csms.conftest import FixedClock, RunningServer
from tests.csms.test_server import ask, open_socket, register

T0 = "2026-11-25T11:00:00Z"
T1 = "2026-11-25T12:00:00Z"


def call(unique_id: str, action: str, payload: dict[str, Any]) -> str:
    """A CALL frame (msgspec writes a NUL in a string as \\u0000)."""
    return msgspec.json.encode([2, unique_id, action, payload]).decode()


def as_stored(system: CentralSystem, text: str) -> str:
    """`text` as the test's database keeps it."""
    if system.engine.dialect.name == "postgresql":
        return text.replace("\x00", "\ufffd")
    return text


@asynccontextmanager
async def chargers(
    server: RunningServer, *identities: str, rules: set[str] | None = None
) -> AsyncIterator[list[Any]]:
    """Registered (with tolerance `rules`), connected and booted chargers; rows nobody waits
    for (the message log) wait for the next batch however long it takes, so that batches are
    only the test's."""
    server.system.writer.later_delay = 3600
    # Every write in the lane the test holds (`in_one_batch`), plain ones too.
    server.system.writer.plain_lane = False
    tolerated = frozenset(Rule(rule) for rule in rules or ())
    for identity in identities:
        await register(server.system, identity, leniency_rules=tolerated)
    sockets = [await open_socket(server, identity).__aenter__() for identity in identities]
    try:
        boot = {"chargePointVendor": "V", "chargePointModel": "M"}
        for ws in sockets:
            assert (await ask(ws, call("boot", "BootNotification", boot)))[0] == 3
        yield sockets
    finally:
        for ws in sockets:
            await ws.close()


async def in_one_batch(
    system: CentralSystem, calls: list[tuple[ClientConnection, str]], writes: int
) -> list[Any]:
    """The answers to `calls` (a socket and a frame each), sent while the group commit is held
    so that the `writes` they make wait for the same batch; checks that the batch committed as
    one (a failed batch is retried write by write, a batch each)."""
    writer = system.writer
    committing, release = asyncio.Event(), asyncio.Event()

    async def hold(_: AsyncConnection) -> None:
        committing.set()
        await release.wait()

    held = asyncio.ensure_future(writer.commit([], hold))
    await asyncio.wait_for(committing.wait(), 5)
    answers = [asyncio.ensure_future(ask(ws, frame)) for ws, frame in calls]
    async with asyncio.timeout(5):
        # The writes queued behind the held batch (nothing signals a queued write).
        while writer.queued() < writes:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
    before = writer.batches
    release.set()
    await held
    results = await asyncio.gather(*answers)
    assert writer.batches == before + 2, "the batch failed and was retried write by write"
    return results


async def select(system: CentralSystem, query: Any) -> list[Any]:
    await system.writer.flush()
    async with system.engine.connect() as connection:
        return list((await connection.execute(query)).mappings())


async def test_boot_status_meter_values_and_data_transfer_with_nul(
    server: RunningServer, clock: FixedClock
) -> None:
    system = server.system
    details = {
        "chargePointVendor": "Vend\x00or",
        "chargePointModel": "\x00",
        "chargePointSerialNumber": "SN\x00",
        "chargeBoxSerialNumber": "\x00BOX",
        "firmwareVersion": "1.\x00",
        "iccid": "89\x0001",
        "imsi": "26\x0001",
        "meterType": "M\x00T",
        "meterSerialNumber": "MS\x00",
    }
    problem = {"info": "a\x00b", "vendorId": "v\x00", "vendorErrorCode": "\x00E"}
    # Two measurands: a sampled value is stored once per natural key (issue 17, 7).
    power = {"value": "7", "measurand": "Power.Active.Import"}
    reading = {"timestamp": T0, "sampledValue": [{"value": "12\x0034"}, power]}
    vendor = {"vendorId": "acme\x00", "messageId": "m\x00", "data": "d\x00ta"}
    status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
    async with chargers(server, "BOOT", "STATUS", "METER", "VENDOR", "OK1", "OK2", "OK3") as (
        boot, state, meter, data_transfer, ok1, ok2, ok3
    ):  # fmt: skip
        frames = [
            (boot, call("b", "BootNotification", details)),
            (state, call("s", "StatusNotification", {**status, "errorCode": "OtherError",
                                                     "status": "Faulted", **problem})),
            (meter, call("m", "MeterValues", {"connectorId": 1, "meterValue": [reading]})),
            (data_transfer, call("d", "DataTransfer", vendor)),
            (ok1, call("h", "Heartbeat", {})),
            (ok2, call("s", "StatusNotification", {**status, "info": "fine"})),
            (ok3, call("b", "BootNotification", {"chargePointVendor": "W",
                                                  "chargePointModel": "N"})),
        ]  # fmt: skip
        clock.now += timedelta(minutes=1)
        answers = await in_one_batch(system, frames, writes=6)
    assert [answer[:2] for answer in answers] == [
        [3, "b"], [3, "s"], [3, "m"], [3, "d"], [3, "h"], [3, "s"], [3, "b"]
    ]  # fmt: skip
    assert answers[0][2]["status"] == "Accepted" and answers[6][2]["status"] == "Accepted"
    assert answers[3][2] == {"status": "UnknownVendorId"}

    columns = {
        "chargePointVendor": "vendor",
        "chargePointModel": "model",
        "chargePointSerialNumber": "charge_point_serial_number",
        "chargeBoxSerialNumber": "charge_box_serial_number",
        "firmwareVersion": "firmware_version",
        "iccid": "iccid",
        "imsi": "imsi",
        "meterType": "meter_type",
        "meterSerialNumber": "meter_serial_number",
    }
    booted = {row["id"]: row for row in await select(system, sa.select(models.charge_points))}
    assert {columns[k]: booted["BOOT"][columns[k]] for k in details} == {
        columns[k]: as_stored(system, v) for k, v in details.items()
    }
    assert (booted["OK3"]["vendor"], booted["OK3"]["model"]) == ("W", "N")
    assert as_utc(booted["OK1"]["last_heartbeat_at"]) == clock.now

    current = await select(system, sa.select(models.connectors))
    history = await select(system, sa.select(models.status_history))
    for rows in (current, history):
        stored = {row["charge_point_id"]: row for row in rows}
        assert set(stored) == {"STATUS", "OK2"}
        bad = stored["STATUS"]
        assert (bad["info"], bad["vendor_id"], bad["vendor_error_code"]) == tuple(
            as_stored(system, problem[k]) for k in ("info", "vendorId", "vendorErrorCode")
        )
        assert (stored["OK2"]["status"], stored["OK2"]["info"]) == ("Available", "fine")

    values = await select(system, sa.select(models.meter_values.c.value))
    assert sorted(row["value"] for row in values) == sorted([as_stored(system, "12\x0034"), "7"])

    # Every frame is logged as it was sent (the JSON text escapes the NUL).
    log = models.messages.c
    logged = await select(
        system,
        sa.select(log.charge_point_id, log.direction, log.payload).where(log.unique_id != "boot"),
    )
    incoming = {
        row["charge_point_id"]: row["payload"] for row in logged if row["direction"] == "in"
    }
    sent = dict(
        zip(["BOOT", "STATUS", "METER", "VENDOR", "OK1", "OK2", "OK3"], frames, strict=True)
    )
    assert incoming == {identity: frame for identity, (_, frame) in sent.items()}
    assert len(logged) == 2 * len(frames)


async def test_an_id_tag_with_nul_matches_no_stored_tag(server: RunningServer) -> None:
    """Not even the tag stored for it (on PostgreSQL, the tag with U+FFFD for the NUL; on
    SQLite, the same string): Authorize and StartTransaction answer Invalid, a stop is
    accepted as always, and all of it is stored."""
    system = server.system
    tag = "T\x001"
    async with system.engine.begin() as connection:
        await connection.execute(
            models.id_tags.insert(),
            [
                {"id_tag": tag, "id_tag_key": tag.lower(), "status": "Accepted"},
                {"id_tag": "GOOD", "id_tag_key": "good", "status": "Accepted"},
            ],
        )
    start = {"connectorId": 1, "idTag": tag, "meterStart": 100, "timestamp": T0}
    sample = [{"timestamp": T1, "sampledValue": [{"value": "9\x00"}]}]
    unmatched = {
        "transactionId": 987654,
        "idTag": tag,
        "meterStop": 5,
        "timestamp": T1,
        "transactionData": sample,
    }
    async with chargers(server, "AUTH", "START", "LOST", "OK1", "OK2") as (
        auth, starter, lost, ok1, ok2
    ):  # fmt: skip
        first = await in_one_batch(
            system,
            [
                (auth, call("a", "Authorize", {"idTag": tag})),
                (starter, call("s", "StartTransaction", start)),
                (lost, call("x", "StopTransaction", unmatched)),
                (ok1, call("a", "Authorize", {"idTag": "good"})),
                (ok2, call("s", "StartTransaction", {**start, "idTag": "GOOD"})),
            ],
            writes=5,
        )
        assert [answer[:2] for answer in first] == [
            [3, "a"], [3, "s"], [3, "x"], [3, "a"], [3, "s"]
        ]  # fmt: skip
        auth_info, (started, good_started) = first[0][2], (first[1][2], first[4][2])
        assert auth_info == {"idTagInfo": {"status": "Invalid"}}
        assert started["idTagInfo"] == {"status": "Invalid"}
        assert first[2][2] == {"idTagInfo": {"status": "Invalid"}}
        assert first[3][2]["idTagInfo"]["status"] == "Accepted"
        assert good_started["idTagInfo"]["status"] == "Accepted"
        transaction_id = started["transactionId"]

        # The start again (a retransmission): the same transaction, nothing new.
        stop = {
            "transactionId": transaction_id,
            "idTag": tag,
            "meterStop": 1100,
            "timestamp": T1,
            "transactionData": sample,
        }
        good_stop = {**stop, "transactionId": good_started["transactionId"], "idTag": "GOOD"}
        second = await in_one_batch(
            system,
            [
                (starter, call("s2", "StartTransaction", start)),
                (ok2, call("t", "StopTransaction", good_stop)),
            ],
            writes=2,
        )
        assert second[0][:2] == [3, "s2"] and second[0][2] == started
        assert second[1][:2] == [3, "t"] and second[1][2]["idTagInfo"]["status"] == "Accepted"
        [stopped] = await in_one_batch(
            system, [(starter, call("t", "StopTransaction", stop))], writes=1
        )
        assert stopped == [3, "t", {"idTagInfo": {"status": "Invalid"}}]

    nul_tag = as_stored(system, tag)
    t = models.transactions.c
    transactions = await select(
        system,
        sa.select(t.id, t.charge_point_id, t.id_tag, t.start_status, t.stop_id_tag, t.energy_wh),
    )
    assert sorted(tuple(row.values()) for row in transactions) == sorted(
        [
            (transaction_id, "START", nul_tag, "Invalid", nul_tag, 1000),
            (good_started["transactionId"], "OK2", "GOOD", "Accepted", "GOOD", 1000),
        ]
    )
    [lost_stop] = await select(system, sa.select(models.unmatched_stops))
    assert (lost_stop["charge_point_id"], lost_stop["id_tag"]) == ("LOST", nul_tag)
    m = models.meter_values.c
    values = await select(system, sa.select(m.charge_point_id, m.transaction_id, m.value))
    assert sorted((row["charge_point_id"], row["transaction_id"]) for row in values) == [
        ("LOST", None),
        ("OK2", good_started["transactionId"]),
        ("START", transaction_id),
    ]
    assert {row["value"] for row in values} == {as_stored(system, "9\x00")}


async def test_an_identity_with_nul_is_refused(server: RunningServer) -> None:
    """Percent-encoded in the URL: refused (404) on every database, even with open
    registration; PostgreSQL would store it as another identity."""
    server.system.settings.registration = RegistrationPolicy.OPEN
    with pytest.raises(InvalidStatus) as caught:
        async with open_socket(server, "A%00B"):
            pass
    assert caught.value.response.status_code == 404
    assert b"NUL" in caught.value.response.body
    assert await select(server.system, sa.select(models.charge_points.c.id)) == []


def test_string_columns_replace_nul_on_postgresql_only() -> None:
    """Every string column binds through `stored_text`'s types: on PostgreSQL a NUL becomes
    U+FFFD; on SQLite there is no bind processor at all (its bulk inserts do no work per
    value)."""
    pg, lite = asyncpg.dialect(), aiosqlite.dialect()
    strings = [
        column
        for table in models.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, sa.String)
    ]
    assert len(strings) > 90
    for column in strings:
        assert column.type.dialect_impl(lite).bind_processor(lite) is None, column
        process = column.type.dialect_impl(pg).bind_processor(pg)
        assert process is not None, column
        assert process("a\x00b\x00") == "a\ufffdb\ufffd"
        assert process(None) is None


# Values longer than their columns (issue 17, 1)


async def test_overlong_values_of_a_tolerated_charger_fail_no_shared_write(
    server: RunningServer,
) -> None:
    """A charger whose over-long strings and unknown enum values are tolerated sends, in every
    message that stores something, strings longer than their columns: in one batch with
    another charger's heartbeat, every message is answered as usual and stored. Where the
    database holds lengths (PostgreSQL) they are cut to their columns; SQLite keeps what the
    rows it gets in bulk carry."""
    system = server.system
    long = {"overlong_strings", "unknown_enum_values"}
    identities = ["BOOT", "STATUS", "METER", "START", "STOP", "DIAG"]
    async with chargers(server, *identities, "OK", rules=long) as sockets:
        boot, state, meter, start, stop, diag, ok = sockets
        sampled = {name: name[0].upper() * 100 for name in
                   ("measurand", "unit", "context", "format", "location", "phase")}  # fmt: skip
        frames = [
            (boot, call("b", "BootNotification", {
                "chargePointVendor": "V" * 300, "chargePointModel": "M" * 300,
                "firmwareVersion": "F" * 300, "meterSerialNumber": "S" * 300})),
            (state, call("s", "StatusNotification", {
                "connectorId": 1, "errorCode": "E" * 100, "status": "S" * 100,
                "info": "I" * 300, "vendorId": "W" * 300, "vendorErrorCode": "C" * 300})),
            (meter, call("m", "MeterValues", {"connectorId": 1, "meterValue": [
                {"timestamp": T0, "sampledValue": [{"value": "1", **sampled}]}]})),
            (start, call("t", "StartTransaction", {
                "connectorId": 1, "idTag": "T" * 300, "meterStart": 0, "timestamp": T0})),
            (stop, call("p", "StopTransaction", {
                "transactionId": 5, "idTag": "T" * 300, "meterStop": 1, "timestamp": T1,
                "reason": "R" * 100})),
            (diag, call("d", "DiagnosticsStatusNotification", {"status": "D" * 100})),
            (ok, call("h", "Heartbeat", {})),
        ]  # fmt: skip
        answers = await in_one_batch(system, frames, writes=7)
    assert [answer[:2] for answer in answers] == [
        [3, "b"], [3, "s"], [3, "m"], [3, "t"], [3, "p"], [3, "d"], [3, "h"]
    ]  # fmt: skip
    assert answers[3][2]["idTagInfo"]["status"] == "Invalid"
    holds_lengths = system.engine.dialect.name == "postgresql"
    tables = [models.charge_points, models.connectors, models.status_history, models.meter_values,
              models.transactions, models.unmatched_stops, models.job_statuses]  # fmt: skip
    stored = {table: await select(system, sa.select(table)) for table in tables}
    for table, rows in stored.items():
        assert rows, table.name
        for row in rows:
            for column in table.columns:
                value = row[column.name]
                length = getattr(column.type, "length", None)
                if isinstance(value, str) and length and holds_lengths:
                    assert len(value) <= length, (table.name, column.name)
    booted = {row["id"]: row for row in stored[models.charge_points]}
    assert booted["BOOT"]["vendor"] == "V" * 255  # through SQLAlchemy: cut on both
    assert [row["status"] for row in stored[models.job_statuses]] == ["D" * 32]
    assert [row["stop_reason"] for row in stored[models.unmatched_stops]] == ["R" * 32]
    assert stored[models.transactions][0]["id_tag"] == "T" * 255
    [status] = stored[models.connectors]
    assert status["status"] == ("S" * 32 if holds_lengths else "S" * 100)
