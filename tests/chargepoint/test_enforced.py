"""Rules a charger enforces by itself: MaxEnergyOnInvalidId, ConnectionTimeOut with a plug
left in, a stop by another tag, GetConfigurationMaxKeys, a full battery."""

import pytest
from ocpp.exceptions import OccurenceConstraintViolationError
from ocpp.v16 import call

from ocppd.chargepoint import Clock
from tests.chargepoint.central import BLOCKED_TAG, running


def statuses(calls: list[dict[str, object]], connector_id: int = 1) -> list[object]:
    return [s["status"] for s in calls if s["connector_id"] == connector_id]


async def test_energy_goes_on_up_to_max_energy_on_invalid_id() -> None:
    configuration = {"StopTransactionOnInvalidId": "false", "MaxEnergyOnInvalidId": "500"}
    async with running(configuration=configuration, clock=Clock(speed=100)) as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        await station.plug_in(1)
        # Started without asking first (AuthorizeRemoteTxRequests is false): the CS refuses
        # the tag only in its StartTransaction answer.
        answer = await cs.call(call.RemoteStartTransaction(id_tag=BLOCKED_TAG, connector_id=1))
        assert answer.status == "Accepted"
        start = (await cs.wait_for("StartTransaction"))[0]
        await cs.wait_for("StatusNotification", where=lambda s: s["status"] == "SuspendedEVSE")
        transaction = station.connector(1).transaction
        assert transaction is not None and transaction.energy_cut
        assert transaction.energy_limit_wh is not None
        # Cut at exactly 500 Wh after the refusal, however late the station's timer woke
        # (the meter books nothing past the cut-off); what it drew between its start and the
        # answer depends on the machine's speed, so the test measures from the refusal.
        refused_at_wh = transaction.energy_limit_wh - 500
        assert refused_at_wh >= start["meter_start"]
        meter = station.connector(1).meter
        assert meter.register_wh == pytest.approx(refused_at_wh + 500, abs=1e-6)
        assert cs.calls("StopTransaction") == []  # it goes on, without energy
        assert statuses(cs.calls("StatusNotification"))[-2:] == ["Charging", "SuspendedEVSE"]


async def test_a_plug_left_in_without_a_tag_ends_preparing_in_finishing() -> None:
    async with running(configuration={"ConnectionTimeOut": "30"}) as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        await station.plug_in(1)
        await cs.wait_for("StatusNotification", where=lambda s: s["status"] == "Finishing")
        # A tag presented later still starts a transaction, through Preparing.
        assert await station.start_transaction(1, "TAG1") is not None
        await cs.wait_for("StatusNotification", where=lambda s: s["status"] == "Charging")
        assert statuses(cs.calls("StatusNotification")) == [
            "Available",
            "Preparing",
            "Finishing",
            "Preparing",
            "Charging",
        ]


async def test_another_tag_stops_only_a_transaction_of_its_group() -> None:
    async with running() as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        await station.plug_in(1)
        transaction = await station.start_transaction(1, "GROUP-A")
        assert transaction is not None and transaction.parent_id_tag == "GROUP"
        assert await station.stop_transaction(1, id_tag="STRANGER") is None
        assert station.connector(1).transaction is transaction  # not stopped
        assert await station.stop_transaction(1, id_tag="GROUP-B") is not None
        authorized = [a["id_tag"] for a in cs.calls("Authorize")]
        assert authorized == ["GROUP-A", "STRANGER", "GROUP-B"]
        stop = cs.calls("StopTransaction")[0]
        assert stop["id_tag"] == "GROUP-B"
        # The tag that started it stops it without asking.
        await station.start_transaction(1, "GROUP-A")
        await station.stop_transaction(1, id_tag="group-a")
        assert len(cs.calls("Authorize")) == 4


async def test_get_configuration_takes_at_most_max_keys() -> None:
    async with running(configuration={"GetConfigurationMaxKeys": "2"}) as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        two = await cs.call(call.GetConfiguration(key=["HeartbeatInterval", "LightIntensity"]))
        assert len(two.configuration_key) == 2
        everything = await cs.call(call.GetConfiguration())
        assert len(everything.configuration_key) > 2  # no keys: all of them
        three = call.GetConfiguration(key=["HeartbeatInterval", "LightIntensity", "BlinkRepeat"])
        with pytest.raises(OccurenceConstraintViolationError):
            await cs.call(three, suppress=False)


async def test_a_full_battery_suspends_the_ev() -> None:
    async with running(configuration={"MeterValueSampleInterval": "10"}) as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        station.connector(1).meter.soc_percent = 99.9
        await station.plug_in(1)
        await station.start_transaction(1, "TAG1")
        await cs.wait_for("StatusNotification", where=lambda s: s["status"] == "SuspendedEV")
        assert station.connector(1).meter.power_w == 0
        assert station.connector(1).meter.soc_percent == 100


async def test_a_status_shorter_than_minimum_status_duration_is_not_reported() -> None:
    configuration = {"MinimumStatusDuration": "60"}
    async with running(configuration=configuration, clock=Clock(speed=200)) as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        await station.plug_in(1)
        await station.start_transaction(1, "TAG1")  # Preparing lasted a moment
        await cs.wait_for(
            "StatusNotification",
            where=lambda s: s["connector_id"] == 1 and s["status"] == "Charging",
            timeout=5,
        )
        # Available (the boot reports every connector at once), then no Preparing.
        assert statuses(cs.calls("StatusNotification")) == ["Available", "Charging"]
