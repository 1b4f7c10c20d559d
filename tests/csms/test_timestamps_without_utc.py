"""Timestamps a charger sends that are valid RFC 3339 but have no UTC time within years 1 to
9999 (`0001-01-01T00:00:00+01:00` is the year 0 in UTC), over real sockets, on SQLite and
PostgreSQL.

Each message with one is answered PropertyConstraintViolation naming the field (the protocol
refuses it while decoding: `fields.check_utc_time`), never InternalError; nothing of it is
stored; the charger's connection and the other chargers go on as before. Timestamps at the
ends of UTC time itself are stored as they are.
"""

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from ocppd.csms import models
from ocppd.csms.clock import as_utc
from tests.csms.conftest import RunningServer
from tests.csms.test_server import ask
from tests.csms.test_stored_text import call, chargers, select

NO_UTC = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59"]
REASON = "no UTC time within years 1 to 9999"
T0 = "2026-11-25T11:00:00Z"
T1 = "2026-11-25T11:30:00Z"


def reading(at: str) -> dict[str, Any]:
    return {"timestamp": at, "sampledValue": [{"value": "5"}]}


def refused(unique_id: str, path: str) -> list[Any]:
    return [4, unique_id, "PropertyConstraintViolation", f"{REASON} at {path}",
            {"path": path, "reason": REASON}]  # fmt: skip


@pytest.mark.parametrize("timestamp", NO_UTC)
async def test_a_timestamp_without_a_utc_time_is_refused_and_nothing_is_stored(
    server: RunningServer, timestamp: str
) -> None:
    system = server.system
    async with chargers(server, "BAD", "OK") as (bad, ok):
        start = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": T0}
        started = await ask(bad, call("s", "StartTransaction", start))
        assert started[0] == 3
        transaction_id = started[2]["transactionId"]
        status = {"connectorId": 2, "errorCode": "NoError", "status": "Available"}
        cases = [
            ("StatusNotification", {**status, "timestamp": timestamp}, "$.timestamp"),
            ("StartTransaction", {**start, "connectorId": 2, "timestamp": timestamp},
             "$.timestamp"),
            ("MeterValues", {"connectorId": 1, "transactionId": transaction_id,
                             "meterValue": [reading(T0), reading(timestamp)]},
             "$.meterValue[1].timestamp"),
            ("StopTransaction", {"meterStop": 10, "timestamp": timestamp,
                                 "transactionId": transaction_id}, "$.timestamp"),
            ("StopTransaction", {"meterStop": 10, "timestamp": T1,
                                 "transactionId": transaction_id,
                                 "transactionData": [reading(T0), reading(timestamp)]},
             "$.transactionData[1].timestamp"),
        ]  # fmt: skip
        for attempt in range(2):  # a charger retries transaction messages: the same answer
            for n, (action, payload, path) in enumerate(cases):
                unique_id = f"{action}-{n}-{attempt}"
                answer, other = await asyncio.gather(
                    ask(bad, call(unique_id, action, payload)),
                    ask(ok, call(unique_id, "StatusNotification", {**status, "timestamp": T0})),
                )
                assert answer == refused(unique_id, path)
                assert other == [3, unique_id, {}]
        # The connection goes on, and the transaction is open to a stop that has a time.
        assert (await ask(bad, call("h", "Heartbeat", {})))[:2] == [3, "h"]
        stop = {"meterStop": 10, "timestamp": T1, "transactionId": transaction_id}
        assert (await ask(bad, call("t", "StopTransaction", stop)))[:2] == [3, "t"]

    history = await select(system, sa.select(models.status_history))
    assert {row["charge_point_id"] for row in history} == {"OK"}
    assert len(history) == 2 * len(cases)
    current = await select(system, sa.select(models.connectors))
    assert [(row["charge_point_id"], row["connector_id"]) for row in current] == [("OK", 2)]
    [transaction] = await select(system, sa.select(models.transactions))
    assert (transaction["charge_point_id"], transaction["connector_id"]) == ("BAD", 1)
    assert as_utc(transaction["started_at"]) == datetime(2026, 11, 25, 11, tzinfo=UTC)
    assert as_utc(transaction["stopped_at"]) == datetime(2026, 11, 25, 11, 30, tzinfo=UTC)
    assert transaction["meter_stop"] == 10
    assert await select(system, sa.select(models.meter_values)) == []
    # The message log keeps both frames of a refused call, as it does for any refused payload.
    log = models.messages.c
    logged = await select(
        system,
        sa.select(log.direction, log.message_type).where(
            log.charge_point_id == "BAD", log.unique_id == "MeterValues-2-0"
        ),
    )
    assert sorted((row["direction"], row["message_type"]) for row in logged) == [
        ("in", 2),
        ("out", 4),
    ]


async def test_timestamps_at_the_ends_of_utc_time_are_stored(server: RunningServer) -> None:
    """The nearest a timestamp may come to either end: answered and stored as that instant."""
    system = server.system
    first = "0001-01-01T00:00:00-01:00"  # 0001-01-01T01:00:00Z
    last = "9999-12-31T23:59:59.999999Z"
    async with chargers(server, "CP") as (cp,):
        start = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": first}
        started = await ask(cp, call("s", "StartTransaction", start))
        assert started[0] == 3
        transaction_id = started[2]["transactionId"]
        frames = [
            call("n", "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                             "status": "Charging", "timestamp": last}),
            call("m", "MeterValues", {"connectorId": 1, "transactionId": transaction_id,
                                      "meterValue": [reading(first), reading(last)]}),
            call("t", "StopTransaction", {"meterStop": 10, "timestamp": last,
                                          "transactionId": transaction_id}),
        ]  # fmt: skip
        for frame in frames:
            assert (await ask(cp, frame))[0] == 3, frame
    earliest = datetime(1, 1, 1, 1, tzinfo=UTC)
    latest = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    [transaction] = await select(system, sa.select(models.transactions))
    assert as_utc(transaction["started_at"]) == earliest
    assert as_utc(transaction["stopped_at"]) == latest
    [status] = await select(system, sa.select(models.status_history))
    assert as_utc(status["timestamp"]) == latest
    values = await select(system, sa.select(models.meter_values.c.timestamp))
    assert sorted(as_utc(row["timestamp"]) for row in values) == [earliest, latest]
