"""What a charge point sends, answered and stored: sessions joined in memory, real databases."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa

from ocppd.csms import models, registration
from ocppd.csms.central_system import CentralSystem, Connection
from ocppd.protocol import messages as m
from ocppd.protocol.actions import Role
from ocppd.protocol.datatypes import MeterValue, SampledValue
from ocppd.protocol.enums import (
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    DataTransferStatus,
    Measurand,
    Reason,
    RegistrationStatus,
    UnitOfMeasure,
)
from ocppd.protocol.errors import CallErrorReceived, ErrorCode
from ocppd.rpc.session import Session
from tests.csms.conftest import FixedClock
from tests.rpc.memory import Link

T0 = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)


@dataclass
class Charger:
    session: Session
    connection: Connection


async def add_charge_point(system: CentralSystem, identity: str = "CP1", **options: Any) -> None:
    async with system.engine.begin() as connection:
        await registration.register(connection, identity, **options)


@pytest.fixture
async def charger(central_system: CentralSystem) -> AsyncIterator[Charger]:
    await add_charge_point(central_system)
    link = Link()
    record = await central_system.admit("CP1", None)
    assert isinstance(record, registration.ChargePointRecord)

    async def close(code: int, reason: str) -> None:
        pass

    connection = await central_system.open_session(record, link.to_a.send, close)
    cp = Session(Role.CHARGE_POINT, link.to_b.send, name="CP1")
    link.attach(cp, connection.session)
    yield Charger(cp, connection)
    await link.close()


async def boot(charger: Charger) -> m.BootNotificationResponse:
    response: m.BootNotificationResponse = await charger.session.call(
        m.BootNotificationRequest(
            charge_point_vendor="Vendor",
            charge_point_model="Model",
            charge_point_serial_number="SN-1",
            firmware_version="1.2.3",
        )
    )
    return response


async def rows(system: CentralSystem, table: sa.Table) -> list[Any]:
    await system.writer.flush()  # frames logged "later" are committed too
    async with system.engine.connect() as connection:
        return list((await connection.execute(sa.select(table))).mappings())


async def test_boot_is_answered_and_stored(
    central_system: CentralSystem, charger: Charger, clock: FixedClock
) -> None:
    response = await boot(charger)
    assert response.status is RegistrationStatus.ACCEPTED
    assert response.interval == central_system.settings.heartbeat_interval
    assert response.current_time == clock.now
    [stored] = await rows(central_system, models.charge_points)
    assert stored["vendor"] == "Vendor"
    assert stored["charge_point_serial_number"] == "SN-1"
    assert stored["firmware_version"] == "1.2.3"


async def test_calls_before_boot_get_security_error(charger: Charger) -> None:
    with pytest.raises(CallErrorReceived) as caught:
        await charger.session.call(m.HeartbeatRequest())
    assert caught.value.code is ErrorCode.SECURITY_ERROR
    await boot(charger)
    assert (await charger.session.call(m.HeartbeatRequest())).current_time is not None


async def test_rejected_charge_point_may_only_boot(central_system: CentralSystem) -> None:
    await add_charge_point(central_system, "CP9", status=RegistrationStatus.REJECTED)
    record = await central_system.admit("CP9", None)
    assert isinstance(record, registration.ChargePointRecord)
    link = Link()

    async def close(code: int, reason: str) -> None:
        pass

    connection = await central_system.open_session(record, link.to_a.send, close)
    cp = Session(Role.CHARGE_POINT, link.to_b.send, name="CP9")
    link.attach(cp, connection.session)
    response = await cp.call(
        m.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M")
    )
    assert response.status is RegistrationStatus.REJECTED
    with pytest.raises(CallErrorReceived) as caught:
        await cp.call(m.HeartbeatRequest())
    assert caught.value.code is ErrorCode.SECURITY_ERROR
    await link.close()


async def test_heartbeat_returns_server_time_and_is_stored(
    central_system: CentralSystem, charger: Charger, clock: FixedClock
) -> None:
    await boot(charger)
    clock.now += timedelta(minutes=5)
    response = await charger.session.call(m.HeartbeatRequest())
    assert response.current_time == clock.now
    [stored] = await rows(central_system, models.charge_points)
    assert stored["last_heartbeat_at"].replace(tzinfo=UTC) == clock.now


async def test_status_notifications_keep_current_state_and_history(
    central_system: CentralSystem, charger: Charger, clock: FixedClock
) -> None:
    await boot(charger)
    for status, error in [
        (ChargePointStatus.AVAILABLE, ChargePointErrorCode.NO_ERROR),
        (ChargePointStatus.FAULTED, ChargePointErrorCode.GROUND_FAILURE),
    ]:
        await charger.session.call(
            m.StatusNotificationRequest(
                connector_id=1, error_code=error, status=status, vendor_error_code="E42"
            )
        )
    await charger.session.call(
        m.StatusNotificationRequest(
            connector_id=0,
            error_code=ChargePointErrorCode.NO_ERROR,
            status=ChargePointStatus.AVAILABLE,
            timestamp=T0,
        )
    )
    current = {r["connector_id"]: r for r in await rows(central_system, models.connectors)}
    assert current[1]["status"] == "Faulted"
    assert current[1]["error_code"] == "GroundFailure"
    assert current[1]["vendor_error_code"] == "E42"
    assert current[0]["status_at"].replace(tzinfo=UTC) == T0
    history = await rows(central_system, models.status_history)
    assert [h["status"] for h in history] == ["Available", "Faulted", "Available"]


async def add_tag(system: CentralSystem, id_tag: str, status: str, **extra: Any) -> None:
    async with system.engine.begin() as connection:
        await connection.execute(
            models.id_tags.insert().values(
                id_tag=id_tag, id_tag_key=id_tag.casefold(), status=status, **extra
            )
        )


async def test_authorize_statuses(
    central_system: CentralSystem, charger: Charger, clock: FixedClock
) -> None:
    await boot(charger)
    await add_tag(central_system, "GOOD", "Accepted", parent_id_tag="FLEET")
    await add_tag(central_system, "BAD", "Blocked")
    await add_tag(central_system, "OLD", "Accepted", expiry_date=clock.now - timedelta(days=1))
    await add_tag(central_system, "SOON", "Accepted", expiry_date=clock.now + timedelta(days=1))

    async def status(tag: str) -> Any:
        return (await charger.session.call(m.AuthorizeRequest(id_tag=tag))).id_tag_info

    good = await status("good")  # case-insensitive
    assert good.status is AuthorizationStatus.ACCEPTED
    assert good.parent_id_tag == "FLEET"
    assert (await status("BAD")).status is AuthorizationStatus.BLOCKED
    assert (await status("OLD")).status is AuthorizationStatus.EXPIRED
    soon = await status("SOON")
    assert soon.status is AuthorizationStatus.ACCEPTED
    assert soon.expiry_date == clock.now + timedelta(days=1)
    assert (await status("NOBODY")).status is AuthorizationStatus.INVALID


def start_request(**overrides: Any) -> m.StartTransactionRequest:
    values: dict[str, Any] = {
        "connector_id": 1,
        "id_tag": "GOOD",
        "meter_start": 1000,
        "timestamp": T0,
    }
    values.update(overrides)
    return m.StartTransactionRequest(**values)


async def test_transaction_from_start_to_stop(
    central_system: CentralSystem, charger: Charger
) -> None:
    await boot(charger)
    await add_tag(central_system, "GOOD", "Accepted")
    started = await charger.session.call(start_request())
    assert started.id_tag_info.status is AuthorizationStatus.ACCEPTED
    assert started.transaction_id > 0
    await charger.session.call(
        m.MeterValuesRequest(
            connector_id=1,
            transaction_id=started.transaction_id,
            meter_value=[
                MeterValue(
                    timestamp=T0 + timedelta(minutes=1),
                    sampled_value=[
                        SampledValue(value="1500"),
                        SampledValue(
                            value="11000",
                            measurand=Measurand.POWER_ACTIVE_IMPORT,
                            unit=UnitOfMeasure.W,
                        ),
                    ],
                )
            ],
        )
    )
    stopped = await charger.session.call(
        m.StopTransactionRequest(
            meter_stop=12500,
            timestamp=T0 + timedelta(hours=1),
            transaction_id=started.transaction_id,
            id_tag="GOOD",
            reason=Reason.EV_DISCONNECTED,
            transaction_data=[
                MeterValue(
                    timestamp=T0 + timedelta(hours=1), sampled_value=[SampledValue(value="12500")]
                )
            ],
        )
    )
    assert stopped.id_tag_info.status is AuthorizationStatus.ACCEPTED
    [stored] = await rows(central_system, models.transactions)
    assert stored["energy_wh"] == 11500
    assert stored["stop_reason"] == "EVDisconnected"
    assert stored["started_at"].replace(tzinfo=UTC) == T0
    values = await rows(central_system, models.meter_values)
    assert len(values) == 3
    assert {v["transaction_id"] for v in values} == {started.transaction_id}
    defaulted = values[0]
    assert defaulted["measurand"] == "Energy.Active.Import.Register"
    assert defaulted["unit"] == "Wh"
    assert defaulted["context"] == "Sample.Periodic"
    assert defaulted["location"] == "Outlet"
    assert values[1]["measurand"] == "Power.Active.Import"


async def test_retransmitted_start_returns_the_same_transaction(
    central_system: CentralSystem, charger: Charger
) -> None:
    await boot(charger)
    await add_tag(central_system, "GOOD", "Accepted")
    first = await charger.session.call(start_request())
    again = await charger.session.call(start_request())
    assert again.transaction_id == first.transaction_id
    assert again.id_tag_info.status is AuthorizationStatus.ACCEPTED
    assert len(await rows(central_system, models.transactions)) == 1


async def test_tag_already_charging_gets_concurrent_tx(
    central_system: CentralSystem, charger: Charger
) -> None:
    await boot(charger)
    await add_tag(central_system, "GOOD", "Accepted")
    await charger.session.call(start_request())
    second = await charger.session.call(start_request(connector_id=2, meter_start=5))
    assert second.id_tag_info.status is AuthorizationStatus.CONCURRENT_TX
    assert second.transaction_id > 0


async def test_offline_start_keeps_its_own_time(
    central_system: CentralSystem, charger: Charger
) -> None:
    await boot(charger)
    long_ago = T0 - timedelta(days=3)
    started = await charger.session.call(start_request(timestamp=long_ago, id_tag="UNKNOWN"))
    assert started.id_tag_info.status is AuthorizationStatus.INVALID
    [stored] = await rows(central_system, models.transactions)
    assert stored["started_at"].replace(tzinfo=UTC) == long_ago
    assert stored["start_status"] == "Invalid"


@pytest.mark.parametrize("transaction_id", [-1, 0, 987654])
async def test_stop_of_unknown_transaction_is_accepted_and_recorded(
    central_system: CentralSystem, charger: Charger, transaction_id: int
) -> None:
    await boot(charger)
    response = await charger.session.call(
        m.StopTransactionRequest(meter_stop=5, timestamp=T0, transaction_id=transaction_id)
    )
    assert response == m.StopTransactionResponse()
    [stored] = await rows(central_system, models.unmatched_stops)
    assert stored["transaction_id"] == transaction_id
    assert stored["stop_reason"] == "Local"


async def test_data_transfer_vendors(central_system: CentralSystem, charger: Charger) -> None:
    await boot(charger)

    async def acme(charge_point_id: str, request: m.DataTransferRequest) -> m.DataTransferResponse:
        if request.message_id != "ping":
            return m.DataTransferResponse(status=DataTransferStatus.UNKNOWN_MESSAGE_ID)
        return m.DataTransferResponse(status=DataTransferStatus.ACCEPTED, data=charge_point_id)

    central_system.data_transfer["com.acme"] = acme
    ping = await charger.session.call(
        m.DataTransferRequest(vendor_id="com.acme", message_id="ping")
    )
    assert ping == m.DataTransferResponse(status=DataTransferStatus.ACCEPTED, data="CP1")
    other = await charger.session.call(m.DataTransferRequest(vendor_id="com.acme", message_id="x"))
    assert other.status is DataTransferStatus.UNKNOWN_MESSAGE_ID
    unknown = await charger.session.call(m.DataTransferRequest(vendor_id="org.other"))
    assert unknown.status is DataTransferStatus.UNKNOWN_VENDOR_ID


async def test_job_notifications_are_kept_with_the_open_job_or_none(
    central_system: CentralSystem, charger: Charger
) -> None:
    from ocppd.csms import jobs
    from ocppd.protocol.enums import DiagnosticsStatus, FirmwareStatus

    await boot(charger)
    async with central_system.engine.begin() as db:
        job_id, _ = await jobs.open_job(
            db, "CP1", jobs.DIAGNOSTICS, central_system.clock(), {"retries": 1}
        )
    for status in [DiagnosticsStatus.UPLOADING, DiagnosticsStatus.IDLE, DiagnosticsStatus.UPLOADED]:
        await charger.session.call(m.DiagnosticsStatusNotificationRequest(status=status))
    await charger.session.call(
        m.FirmwareStatusNotificationRequest(status=FirmwareStatus.DOWNLOADING)
    )
    [job] = await rows(central_system, models.jobs)
    assert (job["id"], job["status"], job["retries"]) == (job_id, "Uploaded", 1)
    assert job["ended_at"] is not None and job["token_hash"] is None
    history = [
        (r["job_id"], r["kind"], r["status"])
        for r in await rows(central_system, models.job_statuses)
    ]
    assert history == [
        (job_id, "diagnostics", "Uploading"),
        (job_id, "diagnostics", "Idle"),
        (job_id, "diagnostics", "Uploaded"),
        (None, "firmware", "Downloading"),
    ]


async def test_every_frame_is_in_the_message_log(
    central_system: CentralSystem, charger: Charger
) -> None:
    await boot(charger)
    await charger.session.call(m.HeartbeatRequest())
    logged = await rows(central_system, models.messages)
    summary = [(r["direction"], r["message_type"], r["action"]) for r in logged]
    assert summary == [
        ("in", 2, "BootNotification"),
        ("out", 3, "BootNotification"),
        ("in", 2, "Heartbeat"),
        ("out", 3, "Heartbeat"),
    ]
    assert msgspec.json.decode(logged[0]["payload"])[2] == "BootNotification"


async def test_admission(central_system: CentralSystem) -> None:
    await add_charge_point(central_system, "LOCKED", auth_key="00112233445566778899aabbccddeeff")
    refused = await central_system.admit("STRANGER", None)
    assert getattr(refused, "status", None) == 404
    assert getattr(await central_system.admit("", None), "status", None) == 404
    assert getattr(await central_system.admit("x" * 256, None), "status", None) == 404
    assert getattr(await central_system.admit("LOCKED", None), "status", None) == 401
    assert getattr(await central_system.admit("LOCKED", "wrong"), "status", None) == 401
    admitted = await central_system.admit("LOCKED", "00112233445566778899aabbccddeeff")
    assert isinstance(admitted, registration.ChargePointRecord)
    [stored] = await rows(central_system, models.charge_points)
    assert "00112233" not in stored["auth_key_hash"]


async def test_many_charge_points_at_once(central_system: CentralSystem) -> None:
    """Concurrent traffic from 50 chargers: every message answered and stored once."""
    await add_tag(central_system, "GOOD", "Accepted")
    links = []

    async def run(n: int) -> int:
        identity = f"CP{n}"
        await add_charge_point(central_system, identity)
        record = await central_system.admit(identity, None)
        assert isinstance(record, registration.ChargePointRecord)
        link = Link()
        links.append(link)

        async def close(code: int, reason: str) -> None:
            pass

        connection = await central_system.open_session(record, link.to_a.send, close)
        cp = Session(Role.CHARGE_POINT, link.to_b.send, name=identity)
        link.attach(cp, connection.session)
        await cp.call(m.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M"))
        started = await cp.call(start_request(id_tag=f"T{n}", meter_start=n))
        await cp.call(
            m.StopTransactionRequest(
                meter_stop=n + 100, timestamp=T0, transaction_id=started.transaction_id
            )
        )
        return int(started.transaction_id)

    ids = await asyncio.gather(*(run(n) for n in range(50)))
    assert len(set(ids)) == 50
    stored = await rows(central_system, models.transactions)
    assert len(stored) == 50
    assert all(r["energy_wh"] == 100 for r in stored)
    for link in links:
        await link.close()


async def test_group_policy_makes_a_fleet_one_transaction_at_a_time(
    central_system: CentralSystem, charger: Charger
) -> None:
    from ocppd.csms.settings import ConcurrencyScope

    await boot(charger)
    await add_tag(central_system, "CARD-A", "Accepted", parent_id_tag="FLEET")
    await add_tag(central_system, "CARD-B", "Accepted", parent_id_tag="fleet")
    await add_tag(central_system, "SOLO", "Accepted")
    await charger.session.call(start_request(id_tag="CARD-A"))
    other = await charger.session.call(start_request(id_tag="CARD-B", connector_id=2))
    assert other.id_tag_info.status is AuthorizationStatus.ACCEPTED  # per tag: fine
    central_system.settings.concurrent_tx = ConcurrencyScope.GROUP
    third = await charger.session.call(
        start_request(id_tag="card-b", connector_id=3, meter_start=7)
    )
    assert third.id_tag_info.status is AuthorizationStatus.CONCURRENT_TX
    solo = await charger.session.call(start_request(id_tag="SOLO", connector_id=4))
    assert solo.id_tag_info.status is AuthorizationStatus.ACCEPTED


async def test_authorization_key_is_never_in_the_message_log(
    central_system: CentralSystem, charger: Charger
) -> None:
    from ocppd.protocol.enums import ConfigurationStatus

    await boot(charger)
    secret = "00112233445566778899aabbccddeeff"

    @charger.session.on("ChangeConfiguration")
    def change(_: m.ChangeConfigurationRequest) -> m.ChangeConfigurationResponse:
        return m.ChangeConfigurationResponse(status=ConfigurationStatus.ACCEPTED)

    await central_system.call(
        "CP1", m.ChangeConfigurationRequest(key="AuthorizationKey", value=secret)
    )
    await central_system.call(
        "CP1", m.ChangeConfigurationRequest(key="HeartbeatInterval", value="60")
    )
    logged = [r["payload"] for r in await rows(central_system, models.messages)]
    assert not any(secret in payload for payload in logged)
    assert any('"<redacted>"' in payload for payload in logged)
    assert any('"60"' in payload for payload in logged)
