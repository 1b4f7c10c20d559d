"""The security extension against a third-party charger: the `ocpp` package's ChargePoint
(2.1.0, its own schemas and validation) sends security events, uploads a security log for
GetLog, reports its certificates, and verifies, downloads and installs a signed firmware
image; ocppd's jobs and lists follow."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, RegistrationStatus
from websockets.asyncio.client import connect

from ocppd.api.tokens import Role
from ocppd.csms import certificate_authority as ca
from tests.api.conftest import Api
from tests.api.test_commands import HASH_DATA, with_security_extension
from tests.api.test_diagnostics import data_dir, http, until
from tests.api.test_firmware import upload

__all__ = ["data_dir"]  # the autouse fixture: files under the test's temporary directory

LOG = b"2026-11-25T12:00:00Z StartupOfTheDevice critical\n"
IMAGE = b"third-party firmware image " * 100


class Charger(ChargePoint):  # type: ignore[misc]
    """Plays its part of GetLog, GetInstalledCertificateIds and SignedUpdateFirmware."""

    def __init__(self, identity: str, connection: Any) -> None:
        super().__init__(identity, connection)
        self.verified: list[bool] = []
        self.done: asyncio.Queue[str] = asyncio.Queue()

    @on(Action.get_log)
    def get_log(self, **_: Any) -> Any:
        return call_result.GetLog(status="Accepted", filename="security.log")

    @after(Action.get_log)
    async def upload_log(self, log: dict[str, Any], request_id: int, **_: Any) -> None:
        await self.call(call.LogStatusNotification(status="Uploading", request_id=request_id))
        status, _ = await http("PUT", log["remote_location"] + "security.log", LOG)
        outcome = "Uploaded" if status == 201 else "UploadFailure"
        await self.call(call.LogStatusNotification(status=outcome, request_id=request_id))
        await self.done.put("log")

    @on(Action.get_installed_certificate_ids)
    def installed(self, certificate_type: str) -> Any:
        return call_result.GetInstalledCertificateIds(
            status="Accepted",
            certificate_hash_data=[
                {
                    "hash_algorithm": HASH_DATA["hashAlgorithm"],
                    "issuer_name_hash": HASH_DATA["issuerNameHash"],
                    "issuer_key_hash": HASH_DATA["issuerKeyHash"],
                    "serial_number": HASH_DATA["serialNumber"],
                }
            ],
        )

    @on(Action.signed_update_firmware)
    def signed_update(self, **_: Any) -> Any:
        return call_result.SignedUpdateFirmware(status="Accepted")

    @after(Action.signed_update_firmware)
    async def install(self, request_id: int, firmware: dict[str, Any], **_: Any) -> None:
        status, image = await http("GET", firmware["location"])
        assert status == 200
        await self.call(call.SignedFirmwareStatusNotification("Downloaded", request_id))
        valid = ca.verify_firmware_signature(
            image, firmware["signature"], firmware["signing_certificate"]
        )
        self.verified.append(valid)
        for step in (
            ("SignatureVerified", "Installing", "Installed") if valid else ("InvalidSignature",)
        ):
            await self.call(call.SignedFirmwareStatusNotification(step, request_id))
        await self.done.put("firmware")


@asynccontextmanager
async def third_party(api: Api, identity: str = "TP1") -> AsyncIterator[Charger]:
    await with_security_extension(api, identity)
    async with connect(api.ws_url(identity), subprotocols=["ocpp1.6"], open_timeout=30) as ws:
        charger = Charger(identity, ws)
        task = asyncio.create_task(charger.start())
        try:
            boot = await charger.call(
                call.BootNotification(charge_point_model="M", charge_point_vendor="V")
            )
            assert boot.status == RegistrationStatus.accepted
            yield charger
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_a_third_party_charger_through_the_security_extension(
    api: Api, data_dir: Path
) -> None:
    ca.CaFiles.of(data_dir).initialize(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    _, image = await upload(api, IMAGE, "?name=tp-2.0.bin")
    operator = api.client(Role.OPERATOR)
    async with third_party(api) as charger:
        answer = await charger.call(
            call.SecurityEventNotification(
                type="SecurityLogWasCleared", timestamp="2026-11-25T11:59:00Z", tech_info="by me"
            )
        )
        assert answer is not None

        asked = await operator("POST", "/charge-points/TP1/logs", {"logType": "SecurityLog"})
        assert asked.status == 201, asked.body
        assert await asyncio.wait_for(charger.done.get(), 60) == "log"
        log_job = await until(
            operator, f"/logs/{asked.body['jobId']}", lambda b: b["endedAt"] is not None
        )
        assert log_job["status"] == "Uploaded"
        assert (await operator("GET", f"/logs/{asked.body['jobId']}/file")).body == LOG.decode()

        reported = await operator(
            "POST",
            "/charge-points/TP1/commands/GetInstalledCertificateIds",
            {"certificateType": "ManufacturerRootCertificate"},
        )
        assert reported.status == 200, reported.body
        listed = (await operator("GET", "/charge-points/TP1/installed-certificates")).body
        assert [c["serialNumber"] for c in listed] == [HASH_DATA["serialNumber"]]

        update = await operator(
            "POST",
            "/charge-points/TP1/firmware-updates",
            {"firmwareId": image["firmwareId"], "signed": True},
        )
        assert update.status == 201, update.body
        assert await asyncio.wait_for(charger.done.get(), 60) == "firmware"
        assert charger.verified == [True]
        firmware_job = await until(
            operator,
            f"/firmware-updates/{update.body['jobId']}",
            lambda b: b["endedAt"] is not None,
        )
        assert firmware_job["status"] == "Installed"
        assert [h["status"] for h in firmware_job["history"]] == [
            "Downloaded",
            "SignatureVerified",
            "Installing",
            "Installed",
        ]
    events = (await operator("GET", "/security-events", chargePointId="TP1")).body["items"]
    assert [(e["type"], e["critical"], e["techInfo"]) for e in events] == [
        ("SecurityLogWasCleared", True, "by me")
    ]
