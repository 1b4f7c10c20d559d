"""The simulator's rules without a network: configuration, connector states, profiles, lists."""

from datetime import UTC, datetime, timedelta

import pytest
from msgspec import UNSET

from ocppd.chargepoint.authorization import Authorizations, LocalList
from ocppd.chargepoint.configuration import STANDARD_KEYS, Configuration
from ocppd.chargepoint.connectors import ALLOWED, Connector
from ocppd.chargepoint.smart_charging import ChargingProfiles
from ocppd.chargepoint.transactions import Transaction
from ocppd.protocol import messages as m
from ocppd.protocol.datatypes import (
    AuthorizationData,
    ChargingProfile,
    ChargingSchedule,
    ChargingSchedulePeriod,
    IdTagInfo,
)
from ocppd.protocol.enums import ChargePointErrorCode, ChargePointStatus, ChargingRateUnitType

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_every_key_has_a_valid_default() -> None:
    configuration = Configuration(connectors=2)
    known, unknown = configuration.get()
    assert [kv.key for kv in known] == [spec.name for spec in STANDARD_KEYS]
    assert unknown == []
    assert configuration.get_list("SupportedFeatureProfiles")[0] == "Core"
    assert configuration.get_int("NumberOfConnectors") == 2


def test_list_keys_respect_their_max_length() -> None:
    configuration = Configuration(connectors=1, overrides={"MeterValuesSampledDataMaxLength": "2"})
    assert configuration.change("MeterValuesSampledData", "Voltage,SoC") == "Accepted"
    assert configuration.change("MeterValuesSampledData", "Voltage,SoC,Power.Offered") == "Rejected"
    assert configuration.get_list("MeterValuesSampledData") == ["Voltage", "SoC"]


def test_listeners_hear_changes_that_apply_now() -> None:
    configuration = Configuration(connectors=1)
    heard: list[str] = []
    configuration.listeners.append(heard.append)
    configuration.change("heartbeatinterval", "120")
    configuration.change("WebSocketPingInterval", "10")  # RebootRequired: not now
    assert heard == ["HeartbeatInterval"]


def test_connector_states_follow_the_facts() -> None:
    connector = Connector(1)
    seen = []

    def step() -> None:
        status = connector.update()
        if status is not None:
            seen.append(status)

    connector.plugged = True
    step()
    connector.transaction = Transaction(1, "T", 0, T0)
    connector.meter.offered_w = 11_000
    step()
    connector.ev_suspended = True
    step()
    connector.meter.offered_w = 0  # both suspend: the EVSE is reported
    step()
    connector.transaction = None
    connector.finishing = True
    step()
    connector.plugged = False
    step()
    connector.fault = ChargePointErrorCode.GROUND_FAILURE
    step()
    connector.fault = None
    connector.operative = False
    step()
    S = ChargePointStatus
    assert seen == [
        S.PREPARING,
        S.CHARGING,
        S.SUSPENDED_EV,
        S.SUSPENDED_EVSE,
        S.FINISHING,
        S.AVAILABLE,
        S.FAULTED,
        S.UNAVAILABLE,
    ]
    previous = S.AVAILABLE
    for status in seen:
        assert status in ALLOWED[previous]
        previous = status


def schedule_profile(
    purpose: str,
    periods: list[tuple[int, float]],
    *,
    profile_id: int = 1,
    stack_level: int = 0,
    kind: str = "Absolute",
    start: datetime | None = T0,
    duration: int | None = None,
    unit: str = "W",
    recurrency: str | None = None,
) -> ChargingProfile:
    schedule = ChargingSchedule(
        charging_rate_unit=unit,  # type: ignore[arg-type]
        charging_schedule_period=[
            ChargingSchedulePeriod(start_period=s, limit=limit) for s, limit in periods
        ],
    )
    if start is not None:
        schedule.start_schedule = start
    if duration is not None:
        schedule.duration = duration
    profile = ChargingProfile(
        charging_profile_id=profile_id,
        stack_level=stack_level,
        charging_profile_purpose=purpose,  # type: ignore[arg-type]
        charging_profile_kind=kind,  # type: ignore[arg-type]
        charging_schedule=schedule,
    )
    if recurrency is not None:
        profile.recurrency_kind = recurrency  # type: ignore[assignment]
    return profile


def test_stack_levels_durations_and_the_composite() -> None:
    profiles = ChargingProfiles(Configuration(connectors=2))
    base = schedule_profile("TxDefaultProfile", [(0, 11_000)])
    peak = schedule_profile(
        "TxDefaultProfile", [(0, 4_000), (600, 6_000)], profile_id=2, stack_level=1, duration=1200
    )
    station_max = schedule_profile("ChargePointMaxProfile", [(0, 5_000)], profile_id=3)
    assert profiles.install(0, base, T0) == "Accepted"
    assert profiles.install(0, peak, T0) == "Accepted"
    assert profiles.limit_w(1, T0 + timedelta(seconds=10), T0) == 4_000
    assert profiles.limit_w(1, T0 + timedelta(seconds=700), T0) == 6_000
    assert profiles.limit_w(1, T0 + timedelta(seconds=1300), T0) == 11_000  # peak is over
    assert profiles.install(0, station_max, T0) == "Accepted"
    assert profiles.limit_w(1, T0 + timedelta(seconds=700), T0) == 5_000
    assert profiles.limit_w(1, T0 + timedelta(seconds=700), T0, sharing=2) == 2_500
    watts, amps_unit = ChargingRateUnitType.W, ChargingRateUnitType.A
    composite = profiles.composite(1, T0, 1800, watts, T0, 22_080).charging_schedule
    assert composite is not UNSET
    assert [(p.start_period, p.limit) for p in composite.charging_schedule_period] == [
        (0, 4_000),
        (600, 5_000),
    ]
    amps = profiles.composite(1, T0, 300, amps_unit, T0, 22_080).charging_schedule
    assert amps is not UNSET
    assert amps.charging_schedule_period[0].limit == 5.7  # 4 kW / 690 V, rounded down


def test_recurring_daily_profile_repeats() -> None:
    profiles = ChargingProfiles(Configuration(connectors=1))
    night = schedule_profile(
        "TxDefaultProfile",
        [(0, 3_000), (3600, 7_000)],
        kind="Recurring",
        recurrency="Daily",
        start=T0 - timedelta(days=3),
    )
    assert profiles.install(1, night, T0) == "Accepted"
    assert profiles.limit_w(1, T0 + timedelta(minutes=30), T0) == 3_000
    assert profiles.limit_w(1, T0 + timedelta(hours=2), T0) == 7_000
    assert profiles.limit_w(1, T0 + timedelta(days=1, minutes=5), T0) == 3_000


def test_profiles_beyond_the_capabilities_are_rejected() -> None:
    configuration = Configuration(connectors=1, overrides={"ChargeProfileMaxStackLevel": "2"})
    profiles = ChargingProfiles(configuration)
    too_high = schedule_profile("TxDefaultProfile", [(0, 1_000)], stack_level=3)
    assert profiles.install(1, too_high, T0) == "Rejected"
    tx = schedule_profile("TxProfile", [(0, 1_000)])
    assert profiles.install(1, tx, T0, transaction_id=None) == "Rejected"
    assert profiles.install(1, tx, T0, transaction_id=5) == "Accepted"
    profiles.transaction_ended(1)
    assert profiles.installed == ()


def test_relative_profile_on_an_idle_connector_starts_now() -> None:
    profiles = ChargingProfiles(Configuration(connectors=1))
    relative = schedule_profile(
        "TxDefaultProfile", [(0, 3_000), (600, 7_000)], kind="Relative", start=None
    )
    assert profiles.install(1, relative, T0) == "Accepted"
    later = T0 + timedelta(hours=1)
    assert profiles.limit_w(1, later, None) == 3_000  # a transaction starting now
    assert profiles.limit_w(1, later + timedelta(seconds=700), later) == 7_000
    idle = profiles.composite(1, later, 900, ChargingRateUnitType.W, None, 22_080)
    assert idle.charging_schedule is not UNSET
    periods = idle.charging_schedule.charging_schedule_period
    assert [(p.start_period, p.limit) for p in periods] == [(0, 3_000), (600, 7_000)]


def test_single_phase_amps_are_reported_with_their_phases() -> None:
    profiles = ChargingProfiles(Configuration(connectors=1))
    one_phase = schedule_profile("TxDefaultProfile", [(0, 16)], unit="A")
    one_phase.charging_schedule.charging_schedule_period[0].number_phases = 1
    assert profiles.install(1, one_phase, T0) == "Accepted"
    assert profiles.limit_w(1, T0, T0) == 16 * 230
    answer = profiles.composite(1, T0, 60, ChargingRateUnitType.A, T0, 22_080)
    assert answer.charging_schedule is not UNSET
    period = answer.charging_schedule.charging_schedule_period[0]
    assert (period.limit, period.number_phases) == (16, 1)


@pytest.mark.parametrize(
    "malformed",
    [
        schedule_profile("TxDefaultProfile", [(0, 1)], kind="Recurring"),  # no recurrencyKind
        schedule_profile("TxDefaultProfile", [(0, 1)], recurrency="Daily"),  # not Recurring
        schedule_profile("TxDefaultProfile", [(0, 1)], kind="Relative"),  # with startSchedule
        schedule_profile("TxDefaultProfile", [(0, 1), (60, 2), (60, 3)]),  # not increasing
        schedule_profile("TxDefaultProfile", [(0, 1)], stack_level=-1),
    ],
)
def test_malformed_profiles_are_rejected(malformed: ChargingProfile) -> None:
    profiles = ChargingProfiles(Configuration(connectors=1))
    assert profiles.install(1, malformed, T0) == "Rejected"
    assert profiles.installed == ()


@pytest.mark.parametrize(
    ("clear", "left"),
    [
        ({}, []),
        ({"id": 2}, [1, 3]),
        ({"connector_id": 0}, [2]),
        ({"charging_profile_purpose": "TxDefaultProfile", "stack_level": 1}, [1, 3]),
        ({"id": 9, "connector_id": 0}, [1, 2, 3]),  # the id alone decides
    ],
)
def test_clear_charging_profile(clear: dict[str, object], left: list[int]) -> None:
    profiles = ChargingProfiles(Configuration(connectors=2))
    profiles.install(0, schedule_profile("TxDefaultProfile", [(0, 1)], profile_id=1), T0)
    profiles.install(
        1, schedule_profile("TxDefaultProfile", [(0, 1)], profile_id=2, stack_level=1), T0
    )
    profiles.install(0, schedule_profile("ChargePointMaxProfile", [(0, 1)], profile_id=3), T0)
    profiles.clear(m.ClearChargingProfileRequest(**clear))  # type: ignore[arg-type]
    assert [item.profile.charging_profile_id for item in profiles.installed] == left


def test_local_list_full_and_differential() -> None:
    configuration = Configuration(connectors=1)
    local = LocalList()
    accepted = IdTagInfo(status="Accepted")  # type: ignore[arg-type]
    full = m.SendLocalListRequest(
        list_version=1,
        update_type="Full",  # type: ignore[arg-type]
        local_authorization_list=[
            AuthorizationData(id_tag="A", id_tag_info=accepted),
            AuthorizationData(id_tag="B", id_tag_info=accepted),
        ],
    )
    assert local.update(full, configuration) == "Accepted"
    delete_b = m.SendLocalListRequest(
        list_version=2,
        update_type="Differential",  # type: ignore[arg-type]
        local_authorization_list=[AuthorizationData(id_tag="b")],
    )
    assert local.update(delete_b, configuration) == "Accepted"
    assert sorted(local.entries) == ["a"] and local.version == 2
    assert local.update(delete_b, configuration) == "VersionMismatch"
    empty = m.SendLocalListRequest(list_version=5, update_type="Full")  # type: ignore[arg-type]
    assert local.update(empty, configuration) == "Accepted"
    assert local.version == 0  # an empty list has version 0


def test_expired_cache_entries_are_expired_and_the_list_beats_the_cache() -> None:
    configuration = Configuration(connectors=1)
    authorizations = Authorizations()
    authorizations.remember(
        "T1",
        IdTagInfo(status="Accepted", expiry_date=T0),
        configuration,  # type: ignore[arg-type]
    )
    assert authorizations.known("t1", T0 - timedelta(seconds=1), configuration).status == "Accepted"  # type: ignore[union-attr]
    assert authorizations.known("t1", T0, configuration).status == "Expired"  # type: ignore[union-attr]
    authorizations.local_list.entries["t2"] = IdTagInfo(status="Blocked")  # type: ignore[arg-type]
    authorizations.remember("T2", IdTagInfo(status="Accepted"), configuration)  # type: ignore[arg-type]
    assert authorizations.known("T2", T0, configuration).status == "Blocked"  # type: ignore[union-attr]
