"""Boot, heartbeat and the first status notifications, against a mobilityhouse CS."""

import asyncio

import pytest
from ocpp.v16 import call as cs_call

from ocppd.chargepoint import ChargerModel, Clock, Station
from tests.chargepoint.central import CentralSystem, running
from tests.eventually import eventually


async def test_boot_then_status_of_every_connector(central: CentralSystem) -> None:
    model = ChargerModel(vendor="Acme", model="Wall", serial_number="S1", connectors=2)
    async with Station(central.url, "CP1", model=model) as station:
        answer = await station.boot()
        assert answer.status == "Accepted"
        cs = await central.station("CP1")
        boot = (await cs.wait_for("BootNotification"))[0]
        assert boot["charge_point_vendor"] == "Acme"
        assert boot["charge_point_serial_number"] == "S1"
        statuses = await cs.wait_for("StatusNotification", count=3)
        assert [(s["connector_id"], s["status"], s["error_code"]) for s in statuses] == [
            (0, "Available", "NoError"),
            (1, "Available", "NoError"),
            (2, "Available", "NoError"),
        ]
        assert station.configuration.get_int("HeartbeatInterval") == central.interval


async def test_heartbeats_at_the_interval() -> None:
    async with running(central={"interval": 10}) as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        await cs.wait_for("Heartbeat", count=3, timeout=2)  # 10 s at x1000: 10 ms each


async def test_pending_then_accepted_retries_after_the_interval() -> None:
    pending = {"interval": 30, "boot_statuses": ["Pending", "Pending"]}
    async with running(central=pending) as (central, station):
        first = await station.boot()
        assert first.status == "Pending"
        await station.wait_accepted(timeout=2)
        cs = await central.station("CP1")
        assert len(cs.calls("BootNotification")) == 3
        # Nothing but boots before the acceptance; then the statuses.
        assert [a for a, _ in cs.log.received][:3] == ["BootNotification"] * 3


async def test_rejected_station_is_silent_until_the_interval() -> None:
    rejected = {"interval": 300, "boot_statuses": ["Rejected"]}
    async with running(central=rejected) as (central, station):
        first = await station.boot()
        assert first.status == "Rejected"
        cs = await central.station("CP1")
        cs._response_timeout = 0.05  # 300 s of silence last 300 ms
        with pytest.raises(asyncio.TimeoutError):
            await cs.call(cs_call.GetConfiguration())
        await station.wait_accepted(timeout=2)
        assert len(cs.calls("BootNotification")) == 2


async def test_pending_station_answers_and_a_triggered_boot_accepts_it() -> None:
    pending = {"interval": 3000, "boot_statuses": ["Pending"]}  # 3 s of waiting at x1000
    async with running(central=pending) as (central, station):
        assert (await station.boot()).status == "Pending"
        cs = await central.station("CP1")
        answer = await cs.call(cs_call.GetConfiguration(key=["NumberOfConnectors"]))
        assert answer.configuration_key[0]["value"] == "2"
        assert cs.calls("StatusNotification") == []  # nothing unasked while Pending
        trigger = await cs.call(cs_call.TriggerMessage(requested_message="BootNotification"))
        assert trigger.status == "Accepted"
        await station.wait_accepted(timeout=1)
        await cs.wait_for("StatusNotification", count=3)


async def test_a_connect_error_of_another_kind_is_counted_and_tried_again(
    central: CentralSystem, caplog: pytest.LogCaptureFixture
) -> None:
    """A URL the WebSocket client refuses (not a failed connection): the station neither
    stops silently nor hides it from its summary; it tries again, once warned."""
    station = Station(central.url.replace("ws://", "http://", 1), "CP1", clock=Clock(speed=1000))
    async with station:
        station.start()

        def attempts() -> int:
            return sum(n for kind, n in station.stats.errors.items() if "InvalidURI" in kind)

        await eventually(lambda: attempts() >= 3, "three attempts counted")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "CP1: cannot connect: InvalidURI" in warnings[0]
