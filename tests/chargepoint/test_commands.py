"""Every command of the central system answered as a charger would, over a real socket."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.exceptions import InternalError, PropertyConstraintViolationError
from ocpp.v16 import call

from ocppd.chargepoint import ChargerModel, Station
from tests.chargepoint.central import CentralSystem, RecordingChargePoint, running


@pytest.fixture
async def booted() -> AsyncIterator[tuple[RecordingChargePoint, Station]]:
    """A station with 2 connectors, booted, its first statuses received by the CS."""
    model = ChargerModel(connectors=2, max_power_w=22_080)
    async with running(model=model) as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        await cs.wait_for("StatusNotification", count=3)
        yield cs, station


def status_of(cs: RecordingChargePoint, connector_id: int) -> list[str]:
    notifications = cs.calls("StatusNotification")
    return [s["status"] for s in notifications if s["connector_id"] == connector_id]


async def charging(station: Station, connector_id: int = 1, tag: str = "TAG1") -> int:
    await station.plug_in(connector_id)
    transaction = await station.start_transaction(connector_id, tag)
    assert transaction is not None and transaction.transaction_id is not None
    return transaction.transaction_id


async def transaction_id_on(station: Station, connector_id: int) -> int:
    """The id of the transaction running on the connector, once the CS has given it."""
    async with asyncio.timeout(2):
        while True:
            transaction = station.connector(connector_id).transaction
            if transaction is not None and transaction.transaction_id is not None:
                return transaction.transaction_id
            await asyncio.sleep(0.005)


def later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


@pytest.mark.parametrize(("kind", "reason"), [("Soft", "SoftReset"), ("Hard", "HardReset")])
async def test_reset_stops_the_transaction_then_boots_again(
    booted: tuple[RecordingChargePoint, Station], kind: str, reason: str
) -> None:
    cs, station = booted
    transaction_id = await charging(station)
    answer = await cs.call(call.Reset(type=kind))
    assert answer.status == "Accepted"
    stop = (await cs.log.wait_for("StopTransaction"))[0]
    assert (stop["transaction_id"], stop["reason"]) == (transaction_id, reason)
    await cs.log.wait_for("BootNotification", count=2)
    # After the reboot every connector is reported again; the EV is still plugged in.
    after_boot = await cs.log.wait_for("StatusNotification", count=3 + 3 + 3)
    assert [(s["connector_id"], s["status"]) for s in after_boot[-3:]] == [
        (0, "Available"),
        (1, "Finishing"),
        (2, "Available"),
    ]


async def test_remote_start_and_stop(booted: tuple[RecordingChargePoint, Station]) -> None:
    cs, station = booted
    await station.plug_in(2)
    answer = await cs.call(call.RemoteStartTransaction(id_tag="REMOTE", connector_id=2))
    assert answer.status == "Accepted"
    start = (await cs.wait_for("StartTransaction"))[0]
    assert (start["connector_id"], start["id_tag"]) == (2, "REMOTE")
    assert cs.calls("Authorize") == []  # AuthorizeRemoteTxRequests is false
    transaction_id = await transaction_id_on(station, 2)
    assert (await cs.call(call.RemoteStopTransaction(transaction_id=999))).status == "Rejected"
    stopped = await cs.call(call.RemoteStopTransaction(transaction_id=transaction_id))
    assert stopped.status == "Accepted"
    stop = (await cs.wait_for("StopTransaction"))[0]
    assert (stop["transaction_id"], stop["reason"]) == (transaction_id, "Remote")
    busy = await cs.call(call.RemoteStartTransaction(id_tag="OTHER", connector_id=9))
    assert busy.status == "Rejected"


async def test_remote_start_authorizes_first_when_configured(
    booted: tuple[RecordingChargePoint, Station],
) -> None:
    cs, station = booted
    changed = await cs.call(call.ChangeConfiguration(key="AuthorizeRemoteTxRequests", value="true"))
    assert changed.status == "Accepted"
    await station.plug_in(1)
    await cs.call(call.RemoteStartTransaction(id_tag="REMOTE"))
    await cs.wait_for("StartTransaction")
    assert [a for a, _ in cs.log.received if a in ("Authorize", "StartTransaction")] == [
        "Authorize",
        "StartTransaction",
    ]


@pytest.mark.parametrize(
    ("key", "value", "status"),
    [
        ("NumberOfConnectors", "4", "Rejected"),  # read-only
        ("SomethingElse", "1", "NotSupported"),
        ("MeterValueSampleInterval", "30", "Accepted"),
        ("metervaluesampleinterval", "30", "Accepted"),  # key names are CiStrings
        ("MeterValueSampleInterval", "soon", "Rejected"),
        ("MeterValueSampleInterval", "-5", "Rejected"),
        ("LocalPreAuthorize", "yes", "Rejected"),
        ("MeterValuesSampledData", "Energy.Active.Import.Register,SoC", "Accepted"),
        ("MeterValuesSampledData", "Temperature", "Rejected"),  # not measured here
        ("WebSocketPingInterval", "30", "RebootRequired"),
    ],
)
async def test_change_configuration(
    booted: tuple[RecordingChargePoint, Station], key: str, value: str, status: str
) -> None:
    cs, _ = booted
    answer = await cs.call(call.ChangeConfiguration(key=key, value=value))
    assert answer.status == status


async def test_get_configuration(booted: tuple[RecordingChargePoint, Station]) -> None:
    cs, _ = booted
    some = await cs.call(call.GetConfiguration(key=["HeartbeatInterval", "NoSuchKey"]))
    assert some.configuration_key == [
        {"key": "HeartbeatInterval", "readonly": False, "value": "60"}
    ]
    assert some.unknown_key == ["NoSuchKey"]
    everything = await cs.call(call.GetConfiguration())
    keys = {item["key"]: item for item in everything.configuration_key}
    assert keys["NumberOfConnectors"] == {
        "key": "NumberOfConnectors",
        "readonly": True,
        "value": "2",
    }
    assert len(keys) > 40 and not everything.unknown_key


async def test_trigger_message_answers_then_sends(
    booted: tuple[RecordingChargePoint, Station],
) -> None:
    cs, station = booted
    answer = await cs.call(
        call.TriggerMessage(requested_message="StatusNotification", connector_id=2)
    )
    assert answer.status == "Accepted"
    await cs.wait_for("StatusNotification", count=4)
    assert cs.calls("StatusNotification")[-1]["connector_id"] == 2
    assert (await cs.call(call.TriggerMessage(requested_message="Heartbeat"))).status == "Accepted"
    await cs.wait_for("Heartbeat")
    await charging(station)
    meter = await cs.call(call.TriggerMessage(requested_message="MeterValues", connector_id=1))
    assert meter.status == "Accepted"
    triggered = await cs.wait_for(
        "MeterValues",
        where=lambda p: p["meter_value"][0]["sampled_value"][0]["context"] == "Trigger",
    )
    assert triggered[0]["transaction_id"] == station.connector(1).transaction.transaction_id  # type: ignore[union-attr]
    boot = await cs.call(call.TriggerMessage(requested_message="BootNotification"))
    assert boot.status == "Rejected"  # already accepted
    unknown = await cs.call(
        call.TriggerMessage(requested_message="StatusNotification", connector_id=7)
    )
    assert unknown.status == "Rejected"


async def test_unlock_connector_stops_the_transaction(
    booted: tuple[RecordingChargePoint, Station],
) -> None:
    cs, station = booted
    transaction_id = await charging(station)
    assert (await cs.call(call.UnlockConnector(connector_id=1))).status == "Unlocked"
    stop = (await cs.wait_for("StopTransaction"))[0]
    assert (stop["transaction_id"], stop["reason"]) == (transaction_id, "UnlockCommand")
    assert (await cs.call(call.UnlockConnector(connector_id=5))).status == "NotSupported"


async def test_change_availability_is_scheduled_during_a_transaction(
    booted: tuple[RecordingChargePoint, Station],
) -> None:
    cs, station = booted
    await charging(station)
    busy = await cs.call(call.ChangeAvailability(connector_id=1, type="Inoperative"))
    assert busy.status == "Scheduled"
    idle = await cs.call(call.ChangeAvailability(connector_id=2, type="Inoperative"))
    assert idle.status == "Accepted"
    await cs.wait_for("StatusNotification", where=lambda s: s["status"] == "Unavailable")
    assert status_of(cs, 2)[-1] == "Unavailable"
    assert status_of(cs, 1)[-1] == "Charging"
    await station.stop_transaction(1)
    await cs.wait_for("StatusNotification", count=2, where=lambda s: s["status"] == "Unavailable")
    assert status_of(cs, 1)[-1] == "Unavailable"
    assert await station.start_transaction(1, "TAG1") is None
    back = await cs.call(call.ChangeAvailability(connector_id=0, type="Operative"))
    assert back.status == "Accepted"
    # The EV is still plugged in: a new session may begin.
    await cs.wait_for(
        "StatusNotification",
        count=2,  # the first was at plug-in
        where=lambda s: s["connector_id"] == 1 and s["status"] == "Preparing",
    )
    assert status_of(cs, 1)[-2:] == ["Unavailable", "Preparing"]
    assert (
        await cs.call(call.ChangeAvailability(connector_id=3, type="Operative"))
    ).status == "Rejected"


async def test_reservations(booted: tuple[RecordingChargePoint, Station]) -> None:
    cs, station = booted
    reserve = call.ReserveNow(
        connector_id=1, expiry_date=later(3600), id_tag="MINE", reservation_id=7
    )
    assert (await cs.call(reserve)).status == "Accepted"
    await cs.wait_for("StatusNotification", where=lambda s: s["status"] == "Reserved")
    assert await station.start_transaction(1, "SOMEONE") is None
    other = call.ReserveNow(connector_id=1, expiry_date=later(3600), id_tag="X", reservation_id=8)
    assert (await cs.call(other)).status == "Occupied"
    assert (await cs.call(call.CancelReservation(reservation_id=99))).status == "Rejected"
    assert (await cs.call(call.CancelReservation(reservation_id=7))).status == "Accepted"
    await cs.wait_for("StatusNotification", where=lambda s: s["connector_id"] == 1, count=3)
    assert status_of(cs, 1)[-1] == "Available"
    # The reserved tag uses its reservation: StartTransaction carries its id.
    assert (
        await cs.call(
            call.ReserveNow(
                connector_id=2, expiry_date=later(3600), id_tag="MINE", reservation_id=9
            )
        )
    ).status == "Accepted"
    await station.plug_in(2)
    await station.start_transaction(2, "mine")  # tags compare case-insensitively
    start = (await cs.wait_for("StartTransaction"))[0]
    assert start["reservation_id"] == 9


async def test_a_reservation_expires(booted: tuple[RecordingChargePoint, Station]) -> None:
    cs, station = booted
    # The station's clock runs 1000x: 60 s of it pass in 60 ms.
    expiry = (station.clock.now() + timedelta(seconds=60)).isoformat()
    reserve = call.ReserveNow(connector_id=2, expiry_date=expiry, id_tag="MINE", reservation_id=1)
    assert (await cs.call(reserve)).status == "Accepted"
    await cs.wait_for("StatusNotification", where=lambda s: s["connector_id"] == 2, count=3)
    assert status_of(cs, 2) == ["Available", "Reserved", "Available"]


async def test_local_list_and_cache(booted: tuple[RecordingChargePoint, Station]) -> None:
    cs, station = booted
    assert (await cs.call(call.GetLocalListVersion())).list_version == 0
    full = call.SendLocalList(
        list_version=3,
        update_type="Full",
        local_authorization_list=[{"idTag": "LOCAL1", "idTagInfo": {"status": "Accepted"}}],
    )
    assert (await cs.call(full)).status == "Accepted"
    assert (await cs.call(call.GetLocalListVersion())).list_version == 3
    stale = call.SendLocalList(list_version=2, update_type="Differential")
    assert (await cs.call(stale)).status == "VersionMismatch"
    assert (await cs.call(call.ClearCache())).status == "Accepted"
    # LocalPreAuthorize: a tag the list accepts starts without asking the CS.
    await cs.call(call.ChangeConfiguration(key="LocalPreAuthorize", value="true"))
    assert (await station.authorize("local1")).status == "Accepted"
    assert cs.calls("Authorize") == []


async def test_data_transfer(booted: tuple[RecordingChargePoint, Station]) -> None:
    cs, _ = booted
    unknown = await cs.call(call.DataTransfer(vendor_id="Other"))
    assert unknown.status == "UnknownVendorId"
    echo = await cs.call(call.DataTransfer(vendor_id="ocppd", message_id="Echo", data="hi"))
    assert (echo.status, echo.data) == ("Accepted", "hi")
    nope = await cs.call(call.DataTransfer(vendor_id="ocppd", message_id="Nope"))
    assert nope.status == "UnknownMessageId"


def profile(purpose: str, limit: float, unit: str = "A", **extra: Any) -> dict[str, Any]:
    return {
        "chargingProfileId": extra.pop("id", 1),
        "stackLevel": extra.pop("stack_level", 0),
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": extra.pop("kind", "Absolute"),
        "chargingSchedule": {
            "chargingRateUnit": unit,
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
            **extra,
        },
    }


async def test_charging_profiles_limit_the_power(
    booted: tuple[RecordingChargePoint, Station],
) -> None:
    cs, station = booted
    tx_default = profile("TxDefaultProfile", 16.0, kind="Relative")
    set_default = call.SetChargingProfile(connector_id=0, cs_charging_profiles=tx_default)
    assert (await cs.call(set_default)).status == "Accepted"
    await charging(station)
    assert station.connector(1).meter.power_w == pytest.approx(16 * 230 * 3)
    composite = await cs.call(
        call.GetCompositeSchedule(connector_id=1, duration=600, charging_rate_unit="W")
    )
    assert composite.status == "Accepted"
    assert composite.charging_schedule["charging_schedule_period"] == [
        {"start_period": 0, "limit": 11040.0}
    ]
    # A ChargePointMaxProfile belongs on connector 0; a TxProfile needs a transaction.
    wrong = call.SetChargingProfile(
        connector_id=1, cs_charging_profiles=profile("ChargePointMaxProfile", 10.0, id=2)
    )
    assert (await cs.call(wrong)).status == "Rejected"
    idle = call.SetChargingProfile(
        connector_id=2, cs_charging_profiles=profile("TxProfile", 10.0, id=3)
    )
    assert (await cs.call(idle)).status == "Rejected"
    # A limit of 0 suspends the EVSE.
    zero = call.SetChargingProfile(
        connector_id=1, cs_charging_profiles=profile("TxProfile", 0.0, id=4)
    )
    assert (await cs.call(zero)).status == "Accepted"
    await cs.wait_for("StatusNotification", where=lambda s: s["status"] == "SuspendedEVSE")
    cleared = await cs.call(call.ClearChargingProfile(id=4))
    assert cleared.status == "Accepted"
    await cs.wait_for("StatusNotification", count=2, where=lambda s: s["status"] == "Charging")
    assert (await cs.call(call.ClearChargingProfile(id=4))).status == "Unknown"


@pytest.mark.parametrize("duration", [0, -1, 10**12])
async def test_a_composite_schedule_of_no_length_is_rejected(
    booted: tuple[RecordingChargePoint, Station], duration: int
) -> None:
    """No window (or one past year 9999), no schedule to report: Rejected (1.6 §5.7), not a
    CALLERROR."""
    cs, station = booted
    for connector_id in (0, 2):
        request = call.GetCompositeSchedule(connector_id=connector_id, duration=duration)
        answer = await cs.call(request, suppress=False)
        assert answer.status == "Rejected"
        assert answer.charging_schedule is None
    assert station.stats.failed == {}
    assert station.stats.received["GetCompositeSchedule"] == 2


async def test_a_failing_handler_is_counted(
    booted: tuple[RecordingChargePoint, Station], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handler that fails (as GetCompositeSchedule did on an empty window) answers
    InternalError, and the summary counts it: never `errors: none`."""
    cs, station = booted

    def broken(*_: Any, **__: Any) -> Any:
        raise ValueError("the window is empty")

    monkeypatch.setattr(station.profiles, "composite", broken)
    request = call.GetCompositeSchedule(connector_id=1, duration=60)
    with pytest.raises(InternalError):
        await cs.call(request, suppress=False)
    summary = station.stats.summary()
    assert summary["failed"] == {"GetCompositeSchedule InternalError": 1}
    assert summary["went_wrong"]["commands_failed"] == 1
    assert (await cs.call(call.ClearCache())).status == "Accepted"  # the station carries on


NO_UTC = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59"]
"""Valid RFC 3339, but no UTC time within years 1 to 9999 (no datetime holds one)."""


def commands_with(date: str) -> list[tuple[Any, str]]:
    """Every command with a date, that date being `date`, and the field it is in."""
    tag_info = {"status": "Accepted", "expiryDate": date}
    return [
        (call.ReserveNow(connector_id=1, expiry_date=date, id_tag="MINE", reservation_id=1),
         "$.expiryDate"),
        (call.SetChargingProfile(connector_id=0, cs_charging_profiles={
            **profile("TxDefaultProfile", 6.0), "validTo": date}),
         "$.csChargingProfiles.validTo"),
        (call.SetChargingProfile(connector_id=0, cs_charging_profiles=profile(
            "TxDefaultProfile", 6.0, startSchedule=date)),
         "$.csChargingProfiles.chargingSchedule.startSchedule"),
        (call.RemoteStartTransaction(id_tag="TAG1", connector_id=1, charging_profile={
            **profile("TxProfile", 6.0), "validFrom": date}),
         "$.chargingProfile.validFrom"),
        (call.SendLocalList(list_version=5, update_type="Full", local_authorization_list=[
            {"idTag": "LOCAL1", "idTagInfo": tag_info}]),
         "$.localAuthorizationList[0].idTagInfo.expiryDate"),
        (call.GetDiagnostics(location="http://127.0.0.1:9/", stop_time=date), "$.stopTime"),
        (call.UpdateFirmware(location="http://127.0.0.1:9/fw", retrieve_date=date),
         "$.retrieveDate"),
    ]  # fmt: skip


@pytest.mark.parametrize("date", NO_UTC)
async def test_a_date_without_a_utc_time_is_refused_and_changes_nothing(
    booted: tuple[RecordingChargePoint, Station], date: str
) -> None:
    """Each command is answered PropertyConstraintViolation naming the field, the station
    keeps what it had, and it goes on answering and charging."""
    cs, station = booted
    statuses = len(cs.calls("StatusNotification"))
    for command, path in commands_with(date):
        with pytest.raises(PropertyConstraintViolationError) as refused:
            await cs.call(command, suppress=False, skip_schema_validation=True)
        assert refused.value.description == f"no UTC time within years 1 to 9999 at {path}"
        assert refused.value.details == {
            "path": path,
            "reason": "no UTC time within years 1 to 9999",
        }
    assert (await cs.call(call.GetLocalListVersion())).list_version == 0
    assert (station.reservations, station.profiles.installed) == ({}, ())
    assert station.connector(1).transaction is None
    assert (station.diagnostics_status, station.firmware_status) == ("Idle", "Idle")
    assert len(cs.calls("StatusNotification")) == statuses
    # Still a working station: a reservation with a real date, then a charge.
    reserve = call.ReserveNow(
        connector_id=1, expiry_date=later(3600), id_tag="MINE", reservation_id=2
    )
    assert (await cs.call(reserve)).status == "Accepted"
    await charging(station, 1, "MINE")


async def test_unknown_central_system_fields_are_not_our_business(central: CentralSystem) -> None:
    """Nothing but boot is sent before the station is accepted (section 3)."""
    async with Station(central.url, "CP9") as station:
        await station.boot()
        cs = await central.station("CP9")
        assert cs.calls("BootNotification")
