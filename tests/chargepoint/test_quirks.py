"""Quirk personas against ocppd's own central system: refused when it is strict, accepted
with the matching tolerance rule enabled for the charge point (behaviour notes, section 8)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa
import uvicorn

from ocppd.chargepoint import ChargerModel, Clock, Station
from ocppd.chargepoint.quirks import RULES, Quirk, QuirkRewriter, parse_quirks
from ocppd.csms import models, registration
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.service import build_app, uvicorn_config
from ocppd.csms.settings import Settings
from ocppd.protocol.enums import ChargePointErrorCode
from ocppd.protocol.leniency import Rule
from tests.databases import engine_for
from tests.eventually import eventually

SPEED = 1000.0
TAG = "QUIRKY"


class Ocppd:
    def __init__(self, system: CentralSystem, port: int) -> None:
        self.system = system
        self.url = f"ws://127.0.0.1:{port}/ocpp"

    async def register(self, identity: str, rules: frozenset[Rule] = frozenset()) -> None:
        async with self.system.engine.begin() as connection:
            await registration.register(connection, identity, leniency_rules=rules)

    async def transactions(self, identity: str) -> list[sa.Row[tuple[int, int | None]]]:
        table = models.transactions
        query = sa.select(table.c.id, table.c.meter_stop).where(table.c.charge_point_id == identity)
        async with self.system.engine.connect() as connection:
            return list((await connection.execute(query)).all())


@pytest.fixture
async def ocppd(tmp_path: Path) -> AsyncIterator[Ocppd]:
    """ocppd's central system, strict by default, as `ocppd serve` runs it (SQLite)."""
    async for engine in engine_for("sqlite", tmp_path):
        settings = Settings(port=0, ping_interval=0, heartbeat_interval=3600)
        system = CentralSystem(settings, engine=engine)
        await system.start()
        async with system.engine.begin() as connection:
            await connection.execute(
                models.id_tags.insert().values(
                    id_tag=TAG, id_tag_key=TAG.casefold(), status="Accepted"
                )
            )
        server = uvicorn.Server(uvicorn_config(build_app(system), settings))
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
            if task.done():
                task.result()
        yield Ocppd(system, server.servers[0].sockets[0].getsockname()[1])
        server.should_exit = True
        await task
        await system.stop()


async def accepted_or_refused(station: Station) -> None:
    """Returns once the boot is accepted, or once the central system answered a CALLERROR (a
    strict one refuses a quirky boot for good): an event either way, not a guess at how long
    a boot takes on a busy machine."""
    await eventually(
        lambda: (
            station.online or any(error.startswith("CallError") for error in station.stats.errors)
        ),
        what="the boot accepted or a CALLERROR",
        deadline=60,
    )


async def exercise(station: Station) -> None:
    """Boot, a session with meter values, a fault that stops it; whatever goes through."""
    station.start()
    await accepted_or_refused(station)
    if not station.online:
        return
    await station.plug_in(1)
    await station.start_transaction(1, TAG)
    await station.clock.sleep(25)
    await station.set_fault(1, ChargePointErrorCode.GROUND_FAILURE)
    await station.set_fault(1, None)
    await station.unplug(1)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(station.transaction_messages.drain(), 3)
    await station.send_status(None)


def quirky(url: str, identity: str, quirk: Quirk) -> Station:
    configuration = {
        "MeterValueSampleInterval": "10",
        "TransactionMessageRetryInterval": "1",
        "StopTxnSampledData": "Energy.Active.Import.Register,Power.Active.Import",
    }
    return Station(
        url,
        identity,
        model=ChargerModel(connectors=1, serial_number="SN1"),
        clock=Clock(speed=SPEED),
        configuration=configuration,
        quirks=frozenset({quirk}),
    )


REFUSED = {
    Quirk.TIMESTAMPS_WITHOUT_ZONE: "StartTransaction",
    Quirk.NUMBERS_AS_STRINGS: "MeterValues",
    Quirk.OVERLONG_STRINGS: "BootNotification",
    Quirk.ERROR_CODE_ERROR: "StatusNotification",
}
"""The action a strict central system refuses first, for each quirk."""
FIELD_QUIRKS = [quirk for quirk, rule in RULES.items() if rule is not None]


@pytest.mark.parametrize("quirk", FIELD_QUIRKS)
async def test_strict_refuses_the_quirk_and_its_rule_accepts_it(ocppd: Ocppd, quirk: Quirk) -> None:
    rule = RULES[quirk]
    assert rule is not None
    await ocppd.register("STRICT")
    await ocppd.register("LENIENT", frozenset({rule}))
    async with quirky(ocppd.url, "STRICT", quirk) as strict:
        await exercise(strict)
    async with quirky(ocppd.url, "LENIENT", quirk) as lenient:
        await exercise(lenient)
    refused = [error for error in strict.stats.errors if error.startswith("CallError")]
    assert any(error.startswith(f"CallError {REFUSED[quirk]} ") for error in refused), refused
    assert lenient.stats.errors == {}
    assert lenient.stats.sent["StartTransaction"] == 1
    [(_, meter_stop)] = await ocppd.transactions("LENIENT")
    assert meter_stop is not None and meter_stop > 0


async def test_a_duplicated_start_gets_the_same_transaction_id(ocppd: Ocppd) -> None:
    await ocppd.register("TWICE")
    async with quirky(ocppd.url, "TWICE", Quirk.DUPLICATE_START) as station:
        await exercise(station)
    assert station.stats.errors == {}
    assert len(await ocppd.transactions("TWICE")) == 1  # the duplicate matched the first


async def test_minus_one_after_an_offline_start_is_answered(ocppd: Ocppd) -> None:
    await ocppd.register("HAGER")
    async with quirky(ocppd.url, "HAGER", Quirk.MINUS_ONE_AFTER_OFFLINE_START) as station:
        station.configuration.set("AllowOfflineTxForUnknownId", "true")
        await station.wait_accepted()
        station.go_offline()
        await station.plug_in(1)
        transaction = await station.start_transaction(1, TAG)
        assert transaction is not None
        await station.clock.sleep(25)
        await station.stop_transaction(1)
        station.go_online()
        await asyncio.wait_for(station.transaction_messages.drain(), 5)
        assert transaction.transaction_id is not None and transaction.transaction_id > 0
        assert transaction.wire_id == -1
    assert station.stats.errors == {}
    assert station.transaction_messages.discarded == 0


def test_the_rewriter_bends_only_what_its_quirks_say() -> None:
    def frame(action: str, payload: dict[str, object]) -> bytes:
        return msgspec.json.encode([2, "1", action, payload])

    status = frame(
        "StatusNotification",
        {
            "connectorId": 1,
            "errorCode": "GroundFailure",
            "status": "Faulted",
            "timestamp": "2026-11-25T10:00:00.123Z",
        },
    )
    [bent] = QuirkRewriter(frozenset({Quirk.TIMESTAMPS_WITHOUT_ZONE}))(status)
    assert msgspec.json.decode(bent)[3]["timestamp"] == "2026-11-25T10:00:00"
    assert msgspec.json.decode(bent)[3]["errorCode"] == "GroundFailure"
    [bent] = QuirkRewriter(frozenset({Quirk.ERROR_CODE_ERROR}))(status)
    assert msgspec.json.decode(bent)[3]["errorCode"] == "Error"
    boot = frame("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    [bent] = QuirkRewriter(frozenset({Quirk.OVERLONG_STRINGS}))(boot)
    payload = msgspec.json.decode(bent)[3]
    assert (len(payload["chargePointSerialNumber"]), len(payload["chargePointModel"])) == (26, 22)
    start = frame("StartTransaction", {"connectorId": 1})
    first, second = QuirkRewriter(frozenset({Quirk.DUPLICATE_START}))(start)
    assert msgspec.json.decode(first) != msgspec.json.decode(second)
    assert msgspec.json.decode(first)[2:] == msgspec.json.decode(second)[2:]
    answer = msgspec.json.encode([3, "1", {}])
    assert QuirkRewriter(frozenset(Quirk))(answer) == [answer]
    assert QuirkRewriter(frozenset())(status) == [status]


def test_parse_quirks() -> None:
    assert parse_quirks("duplicate_start, overlong_strings") == {
        Quirk.DUPLICATE_START,
        Quirk.OVERLONG_STRINGS,
    }
    assert parse_quirks("all") == frozenset(Quirk)
    with pytest.raises(ValueError, match="Unknown quirk"):
        parse_quirks("sloppy")
