"""The charging profiles the central system keeps: recorded from every answer that passes
`CentralSystem.call` (as site load management sends them), TxProfiles ending with their
transaction, and the checks before sending. Charge points on real sockets."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.csms.central_system import CentralSystem
from ocppd.csms.charging_profiles import PENDING_START, ProfileRefused
from ocppd.csms.clock import as_utc
from ocppd.csms.models import composite_checks, configuration
from ocppd.csms.settings import Settings
from ocppd.protocol import messages as m
from ocppd.protocol.datatypes import ChargingProfile
from ocppd.protocol.smart_charging import Electrical
from tests.api.conftest import Api, FakeChargePoint, charge_point
from tests.csms.conftest import FixedClock
from tests.servers import serving


@pytest.fixture
async def served(central_system: CentralSystem) -> AsyncIterator[Api]:
    """The central system on a free port, without the HTTP API: commands go through
    `CentralSystem.call`, as site load management sends them."""
    async with serving(central_system) as port:
        yield Api(central_system, port, None, {})


def profile(
    profile_id: int, purpose: str = "TxDefaultProfile", level: int = 0, **more: Any
) -> dict[str, Any]:
    return {
        "chargingProfileId": profile_id,
        "stackLevel": level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
        },
        **more,
    }


def set_request(connector: int, body: dict[str, Any]) -> m.SetChargingProfileRequest:
    return m.SetChargingProfileRequest(
        connector_id=connector, cs_charging_profiles=msgspec.convert(body, ChargingProfile)
    )


async def held(system: CentralSystem, identity: str = "CP1") -> list[tuple[int, int, int | None]]:
    """(connector, chargingProfileId, transaction) of what the charge point holds."""
    return [
        (
            item.installed.connector_id,
            item.installed.profile.charging_profile_id,
            item.installed.transaction_id,
        )
        for item in await system.charging_profiles.stored(identity)
    ]


async def start(cp: FakeChargePoint, connector: int = 1, tag: str = "TAG1") -> int:
    answer = await cp.ask(
        "StartTransaction",
        {
            "connectorId": connector,
            "idTag": tag,
            "meterStart": 0,
            "timestamp": "2026-11-25T12:00:00Z",
        },
    )
    return int(answer["transactionId"])


async def stop(cp: FakeChargePoint, transaction: int) -> None:
    await cp.ask(
        "StopTransaction",
        {"transactionId": transaction, "meterStop": 10, "timestamp": "2026-11-25T12:30:00Z"},
    )


async def test_accepted_profiles_are_stored_and_replaced_as_on_the_charger(served: Api) -> None:
    system = served.system
    async with charge_point(served) as cp:
        cp.replies["SetChargingProfile"] = {"status": "Accepted"}
        await system.call("CP1", set_request(0, profile(1, "ChargePointMaxProfile")))
        await system.call("CP1", set_request(1, profile(2, level=1)))
        await system.call("CP1", set_request(2, profile(3, level=1)))
        assert await held(system) == [(0, 1, None), (1, 2, None), (2, 3, None)]
        # The same stack level and purpose on connector 1 replaces id 2 only.
        await system.call("CP1", set_request(1, profile(4, level=1)))
        # The same id replaces, on any connector.
        await system.call("CP1", set_request(2, profile(1, level=5)))
        assert await held(system) == [(2, 3, None), (1, 4, None), (2, 1, None)]
        cp.replies["SetChargingProfile"] = {"status": "Rejected"}
        await system.call("CP1", set_request(1, profile(9, level=1)))
        assert await held(system) == [(2, 3, None), (1, 4, None), (2, 1, None)]
    stored = (await system.charging_profiles.stored("CP1"))[-1].installed
    assert stored.profile == msgspec.convert(profile(1, level=5), ChargingProfile)
    assert stored.received_at == system.clock()


@pytest.mark.parametrize(
    ("fields", "kept"),
    [
        ({}, []),
        ({"id": 3}, [1, 2, 4]),
        ({"id": 3, "connectorId": 1}, [1, 2, 4]),  # with an id the other fields are ignored
        ({"connectorId": 1}, [1, 3]),
        ({"chargingProfilePurpose": "TxDefaultProfile"}, [1]),
        ({"connectorId": 2, "stackLevel": 1}, [1, 2, 4]),
        ({"chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 2}, [1, 2, 3]),
    ],
)
async def test_clear_removes_exactly_what_its_filter_names(
    served: Api, fields: dict[str, Any], kept: list[int]
) -> None:
    system = served.system
    async with charge_point(served) as cp:
        cp.replies["SetChargingProfile"] = {"status": "Accepted"}
        for connector, body in [
            (0, profile(1, "ChargePointMaxProfile")),
            (1, profile(2, level=1)),
            (2, profile(3, level=1)),
            (1, profile(4, level=2)),
        ]:
            await system.call("CP1", set_request(connector, body))
        cp.replies["ClearChargingProfile"] = {"status": "Accepted"}
        await system.call("CP1", msgspec.convert(fields, m.ClearChargingProfileRequest))
    assert [item for _, item, _ in await held(system)] == kept


async def test_clear_answered_unknown_removes_stale_profiles_rejected_changes_nothing(
    served: Api,
) -> None:
    system = served.system
    async with charge_point(served) as cp:
        cp.replies["SetChargingProfile"] = {"status": "Accepted"}
        await system.call("CP1", set_request(1, profile(2)))
        await system.call("CP1", set_request(1, profile(3, level=1)))
        cp.replies["ClearChargingProfile"] = {"status": "Unknown"}
        await system.call("CP1", m.ClearChargingProfileRequest(id=2))
        assert [item for _, item, _ in await held(system)] == [3]


async def test_a_tx_profile_ends_with_its_transaction(served: Api) -> None:
    system = served.system
    async with charge_point(served) as cp, charge_point(served, "CP2") as other:
        cp.replies["SetChargingProfile"] = {"status": "Accepted"}
        other.replies["SetChargingProfile"] = {"status": "Accepted"}
        first = await start(cp, 1)
        second = await start(cp, 2, "TAG2")
        await start(other, 1)
        await system.call("CP1", set_request(1, profile(10, "TxProfile")))
        await system.call("CP1", set_request(2, profile(11, "TxProfile", transactionId=second)))
        await system.call("CP2", set_request(1, profile(10, "TxProfile")))
        assert await held(system) == [(1, 10, first), (2, 11, second)]
        await stop(cp, first)
        assert await held(system) == [(2, 11, second)]
        # The next write for the charge point deletes the row of the ended one.
        await system.call("CP1", set_request(0, profile(1)))
        assert await held(system) == [(2, 11, second), (0, 1, None)]
        assert len(await held(system, "CP2")) == 1


async def test_a_remote_start_profile_becomes_the_tx_profile_of_the_transaction_it_starts(
    served: Api, clock: FixedClock
) -> None:
    system = served.system
    async with charge_point(served) as cp:
        cp.replies["RemoteStartTransaction"] = {"status": "Accepted"}
        request = m.RemoteStartTransactionRequest(
            id_tag="tag1",
            charging_profile=msgspec.convert(profile(20, "TxProfile"), ChargingProfile),
        )
        await system.call("CP1", request)
        pending = await system.charging_profiles.stored("CP1")
        assert [(item.pending, item.installed.connector_id) for item in pending] == [(True, 0)]
        await start(cp, 2, "OTHER")  # another tag: not its transaction
        transaction = await start(cp, 3, "TAG1")
        assert await held(system) == [(3, 20, transaction)]
        await stop(cp, transaction)
        assert await held(system) == []

        # Not started within PENDING_START: gone.
        clock.now += timedelta(seconds=1)
        await system.call("CP1", request)
        assert len(await held(system)) == 1
        clock.now += PENDING_START + timedelta(seconds=1)
        await start(cp, 1, "TAG1")
        assert await held(system) == []


async def store_configuration(system: CentralSystem, **values: str) -> None:
    """The charge point's configuration as a full GetConfiguration answer stores it."""
    async with system.engine.begin() as db:
        await db.execute(configuration.delete())
        for key, value in values.items():
            row = {"charge_point_id": "CP1", "key": key, "known": True, "readonly": True}
            await db.execute(
                configuration.insert().values(
                    **row, value=value, reboot_required=False, updated_at=system.clock()
                )
            )


@pytest.mark.parametrize(
    ("configuration", "connector", "body", "reason"),
    [
        ({}, 0, profile(1, "TxProfile"), "a TxProfile is set on a connector > 0"),
        ({}, 1, profile(1, "TxProfile"), "no transaction on connector 1"),
        ({}, 1, profile(2**63), "chargingProfileId 9223372036854775808 is beyond"),
        ({}, 2**31, profile(1), "no connector 2147483648"),
        (
            {"ChargeProfileMaxStackLevel": "2"},
            1,
            profile(1, level=3),
            "stackLevel 3 exceeds ChargeProfileMaxStackLevel 2",
        ),
        (
            {"ChargingScheduleAllowedChargingRateUnit": "Power"},
            1,
            profile(1),
            "unit A not in ChargingScheduleAllowedChargingRateUnit",
        ),
        (
            {"ChargingScheduleMaxPeriods": "1"},
            1,
            profile(
                1,
                chargingSchedule={
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [
                        {"startPeriod": 0, "limit": 16.0},
                        {"startPeriod": 60, "limit": 8.0},
                    ],
                },
            ),
            "2 periods exceed ChargingScheduleMaxPeriods 1",
        ),
        (
            {"MaxChargingProfilesInstalled": "1"},
            2,
            profile(5),
            "2 profiles would exceed MaxChargingProfilesInstalled 1",
        ),
    ],
)
async def test_a_profile_the_charger_would_refuse_is_not_sent(
    served: Api, configuration: dict[str, str], connector: int, body: Any, reason: str
) -> None:
    system = served.system
    async with charge_point(served) as cp:
        cp.replies["SetChargingProfile"] = {"status": "Accepted"}
        await system.call("CP1", set_request(1, profile(4)))
        await store_configuration(system, **configuration)
        sent = len(cp.received)
        with pytest.raises(ProfileRefused) as refused:
            await system.call("CP1", set_request(connector, body))
        assert str(refused.value).startswith(reason)
        assert len(cp.received) == sent
        # A key never read is not checked: the same profile goes out without the key.
        await store_configuration(system)
        if not configuration:
            return
        await system.call("CP1", set_request(connector, body))
        assert cp.received[-1][0] == "SetChargingProfile"


async def test_a_remote_start_profile_is_a_tx_profile_without_transaction_id(served: Api) -> None:
    system = served.system
    async with charge_point(served) as cp:
        cp.replies["RemoteStartTransaction"] = {"status": "Accepted"}
        for body, reason in [
            (profile(1), "a RemoteStartTransaction's chargingProfile is a TxProfile"),
            (profile(1, "TxProfile", transactionId=5), "a RemoteStartTransaction's charging"),
        ]:
            request = m.RemoteStartTransactionRequest(
                id_tag="T", connector_id=1, charging_profile=msgspec.convert(body, ChargingProfile)
            )
            with pytest.raises(ProfileRefused, match=reason):
                await system.call("CP1", request)
        assert [action for action, _ in cp.received] == []
        await system.call("CP1", m.RemoteStartTransactionRequest(id_tag="T", connector_id=1))
        assert await held(system) == []


async def test_the_prediction_converts_with_the_configured_voltage_and_phases(
    engine: AsyncEngine,
) -> None:
    system = CentralSystem(Settings(voltage=120.0, phases=1), engine=engine)
    assert system.charging_profiles.electrical == Electrical(120.0, 1)


async def test_composite_answers_are_compared_stored_and_published(served: Api) -> None:
    system = served.system
    events = system.events.subscribe()
    async with charge_point(served) as cp:
        cp.replies["SetChargingProfile"] = {"status": "Accepted"}
        await system.call("CP1", set_request(0, profile(1)))  # 16 A from 12:00
        answers: list[dict[str, Any]] = [
            {"status": "Rejected"},
            {"status": "Accepted"},  # no schedule: nothing to compare
            {  # a window beyond the calendar: not compared
                "status": "Accepted",
                "scheduleStart": "9999-12-31T23:59:59Z",
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 1.0}],
                },
            },
            {
                "status": "Accepted",
                "scheduleStart": "2026-11-25T12:00:00Z",
                "chargingSchedule": {
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": [
                        {"startPeriod": 0, "limit": 11040.0},
                        {"startPeriod": 60, "limit": 11000.0},
                        {"startPeriod": 2**62, "limit": 1.0},
                    ],
                },
            },
        ]
        for answer in answers:
            cp.replies["GetCompositeSchedule"] = answer
            request = m.GetCompositeScheduleRequest(connector_id=1, duration=2**62)
            assert msgspec.to_builtins(await system.call("CP1", request)) == answer
    async with system.engine.connect() as db:
        rows = (await db.execute(sa.select(composite_checks))).all()
    (mismatched,) = rows
    assert (mismatched.matches, mismatched.duration) == (False, 31 * 24 * 3600)
    assert (mismatched.predicted_limit, mismatched.reported_limit) == (11040.0, 11000.0)
    assert as_utc(mismatched.mismatch_at) == datetime(2026, 11, 25, 12, 1, tzinfo=UTC)
    checked = [event async for event in _until(events, "CompositeScheduleChecked", 1)]
    assert checked[-1].data == {
        "connectorId": 1,
        "matches": False,
        "mismatch": {
            "at": "2026-11-25T12:01:00+00:00",
            "predictedLimit": 11040.0,
            "reportedLimit": 11000.0,
        },
    }


async def _until(events: Any, kind: str, count: int) -> AsyncIterator[Any]:
    found = 0
    while found < count:
        event = await events.next(timeout=5)
        assert event is not None
        if event.type == kind:
            found += 1
            yield event
