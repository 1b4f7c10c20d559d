"""What a MeterValues says the outlet draws (the event data site load sharing reads), and
meter values stored once however often they are sent."""

from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.csms import models
from ocppd.csms.meter_values import measured_draw
from ocppd.protocol.datatypes import MeterValue
from tests.csms.conftest import RunningServer
from tests.csms.test_server import BOOT, ask, open_socket, register


def values(*samples: list[dict[str, Any]]) -> list[MeterValue]:
    return msgspec.convert(
        [{"timestamp": "2026-11-25T12:00:00Z", "sampledValue": s} for s in samples],
        list[MeterValue],
    )


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([[{"value": "120"}]], {}),  # only the energy register
        (
            [[{"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"}]],
            {"powerW": 7400.0},
        ),
        (
            [
                [
                    {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
                    {"value": "0.0", "measurand": "Current.Import", "unit": "A", "phase": "L2"},
                    {"value": "0.0", "measurand": "Current.Import", "unit": "A", "phase": "L3"},
                    {"value": "3680", "measurand": "Power.Active.Import", "unit": "W"},
                ]
            ],
            {"currentA": 16.0, "phases": 1, "powerW": 3680.0},
        ),
        # The latest meter value that says something wins; the EV side and junk are ignored.
        (
            [
                [{"value": "10", "measurand": "Current.Import"}],
                [
                    {"value": "9", "measurand": "Current.Import", "location": "EV"},
                    {"value": "NaN", "measurand": "Power.Active.Import"},
                    {"value": "-5", "measurand": "Power.Active.Import"},
                    {"value": "lots", "measurand": "Current.Import"},
                ],
            ],
            {"currentA": 10.0, "phases": 1},
        ),
    ],
)
def test_the_draw_of_a_meter_value(samples: list[Any], expected: dict[str, Any]) -> None:
    assert measured_draw(values(*samples)) == expected


# Retransmissions (issue 17, 7): each sampled value is stored once.

SAMPLES = [
    {"value": "1200"},
    {"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"},
    {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
    {"value": "15.5", "measurand": "Current.Import", "unit": "A", "phase": "L2"},
]


async def test_a_retransmitted_meter_values_is_stored_once(server: RunningServer) -> None:
    """The answer to a committed MeterValues is lost and the charger sends it again (the same
    frame, or a new unique id with the same values): it is answered as the first was, and its
    sampled values are stored once. Without a transaction (NULL in the key) too."""
    await register(server.system, "CP1")
    meter = {"timestamp": "2026-11-25T11:59:00Z", "sampledValue": SAMPLES}
    with_tx = {"connectorId": 1, "transactionId": 7, "meterValue": [meter]}
    without_tx = {"connectorId": 2, "meterValue": [meter]}
    async with open_socket(server, "CP1") as ws:
        assert (await ask(ws, BOOT))[0] == 3
        answers = [
            await ask(ws, msgspec.json.encode([2, unique, "MeterValues", payload]))
            for unique, payload in [
                ("m1", with_tx), ("m1", with_tx), ("m2", with_tx),
                ("n1", without_tx), ("n1", without_tx), ("n2", without_tx),
            ]
        ]  # fmt: skip
    assert [answer[2] for answer in answers] == [{}] * 6
    rows = await stored_samples(server.system.engine)
    assert sorted(rows) == sorted(
        (connector, transaction, sample.get("measurand", ENERGY), sample.get("phase"))
        for connector, transaction in [(1, 7), (2, None)]
        for sample in SAMPLES
    )


async def test_retransmitted_stop_meter_data_is_stored_once(server: RunningServer) -> None:
    """A StopTransaction's transactionData, sent again after a lost answer: stored once, and the
    retransmission answered as the first was (for a transaction found and for one not found)."""
    await register(server.system, "CP1")
    async with server.system.engine.begin() as connection:
        await connection.execute(
            models.id_tags.insert(), {"id_tag": "TAG", "id_tag_key": "tag", "status": "Accepted"}
        )
    data = [{"timestamp": "2026-11-25T11:58:00Z", "sampledValue": SAMPLES}]
    async with open_socket(server, "CP1") as ws:
        assert (await ask(ws, BOOT))[0] == 3
        start = {"connectorId": 1, "idTag": "TAG", "meterStart": 0,
                 "timestamp": "2026-11-25T11:50:00Z"}  # fmt: skip
        started = await ask(ws, msgspec.json.encode([2, "s1", "StartTransaction", start]))
        transaction_id = started[2]["transactionId"]
        answers = []
        for unique, transaction in [("t1", transaction_id), ("t1", transaction_id),
                                    ("u1", 999_999), ("u2", 999_999)]:  # fmt: skip
            stop = {"transactionId": transaction, "idTag": "TAG", "meterStop": 1200,
                    "timestamp": "2026-11-25T11:59:00Z", "transactionData": data}  # fmt: skip
            answers.append(await ask(ws, msgspec.json.encode([2, unique, "StopTransaction", stop])))
    assert answers[0][2] == answers[1][2] and answers[2][2] == answers[3][2]
    assert answers[0][2]["idTagInfo"]["status"] == "Accepted"
    rows = await stored_samples(server.system.engine)
    assert sorted(rows, key=repr) == sorted(
        (
            (connector, transaction, sample.get("measurand", ENERGY), sample.get("phase"))
            for connector, transaction in [(1, transaction_id), (0, None)]
            for sample in SAMPLES
        ),
        key=repr,
    )


ENERGY = "Energy.Active.Import.Register"


async def stored_samples(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    c = models.meter_values.c
    query = sa.select(c.connector_id, c.transaction_id, c.measurand, c.phase)
    async with engine.connect() as connection:
        return [tuple(row) for row in await connection.execute(query)]


async def test_a_retransmitted_unmatched_stop_is_stored_once(server: RunningServer) -> None:
    """A StopTransaction whose transaction is not found, sent again after a lost answer (the
    same frame, or a new unique id): one unmatched_stops row, and each answered as the first
    was. A stop that differs in its meterStop or its timestamp is another stop."""
    await register(server.system, "CP1")
    first = {"transactionId": 999_999, "meterStop": 1200, "timestamp": "2026-11-25T11:59:00Z"}
    other_meter = {**first, "meterStop": 1300}
    other_time = {**first, "timestamp": "2026-11-25T12:00:00Z"}
    async with open_socket(server, "CP1") as ws:
        assert (await ask(ws, BOOT))[0] == 3
        sent = [("u1", first), ("u1", first), ("u2", first), ("u3", other_meter),
                ("u4", other_time)]  # fmt: skip
        answers = [
            await ask(ws, msgspec.json.encode([2, unique, "StopTransaction", payload]))
            for unique, payload in sent
        ]
    assert [answer[:2] for answer in answers] == [[3, u] for u in ("u1", "u1", "u2", "u3", "u4")]
    assert {msgspec.json.encode(answer[2]) for answer in answers} == {b"{}"}
    c = models.unmatched_stops.c
    query = sa.select(c.charge_point_id, c.transaction_id, c.meter_stop).order_by(c.id)
    async with server.system.engine.connect() as connection:
        stored = [tuple(row) for row in await connection.execute(query)]
    assert stored == [("CP1", 999_999, 1200), ("CP1", 999_999, 1300), ("CP1", 999_999, 1200)]
