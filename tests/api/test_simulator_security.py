"""The security extension end to end with ocppd's own simulator as the charger (real sockets,
a fast simulated clock): the manufacturer root installed from ocppd's CA, a firmware image
signed by ocppd verified and installed, a signing certificate the charger does not trust
refused, a security log uploaded, the charger's security events stored."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from ocppd.api.tokens import Role
from ocppd.chargepoint import ChargerModel, Clock, Station
from ocppd.chargepoint.files import TransferOptions
from ocppd.chargepoint.security import SecuritySettings
from ocppd.csms import certificate_authority as ca
from tests.api.conftest import Api
from tests.api.test_commands import with_security_extension
from tests.api.test_diagnostics import data_dir, until
from tests.api.test_firmware import upload

__all__ = ["data_dir"]  # the autouse fixture: files under the test's temporary directory

IDENTITY = "SIM-SEC"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@asynccontextmanager
async def simulator(api: Api) -> AsyncIterator[Station]:
    await with_security_extension(api, IDENTITY)
    station = Station(
        f"ws://127.0.0.1:{api.port}/ocpp",
        IDENTITY,
        model=ChargerModel(connectors=1, firmware_version="sim-1.0"),
        clock=Clock(speed=1000.0),
        file_transfer=TransferOptions(timeout=5),
        security=SecuritySettings(extension=True),
    )
    async with station:
        await station.wait_accepted()
        yield station


async def test_signed_firmware_logs_and_events_with_the_simulator(api: Api, data_dir: Path) -> None:
    files = ca.CaFiles.of(data_dir)
    files.initialize(NOW)
    root = files.ca_cert.read_text()
    _, image = await upload(api, b"\x00sim firmware 3.0\xff" * 200, "?name=sim-3.0.bin")
    operator = api.client(Role.OPERATOR)
    commands = f"/charge-points/{IDENTITY}/commands/"
    async with simulator(api) as station:
        installed = await operator(
            "POST",
            commands + "InstallCertificate",
            {"certificateType": "ManufacturerRootCertificate", "certificate": root},
        )
        assert installed.body == {"status": "Accepted"}, installed.body
        asked = await operator(
            "POST",
            commands + "GetInstalledCertificateIds",
            {"certificateType": "ManufacturerRootCertificate"},
        )
        assert asked.body["status"] == "Accepted", asked.body
        listed = (await operator("GET", f"/charge-points/{IDENTITY}/installed-certificates")).body
        serial = ca.serial_hex(files.authority().certificate)
        assert [int(c["serialNumber"], 16) for c in listed] == [int(serial, 16)]

        # Signed by ocppd, with a certificate its CA issued: verified, installed.
        update = await operator(
            "POST",
            f"/charge-points/{IDENTITY}/firmware-updates",
            {"firmwareId": image["firmwareId"], "signed": True},
        )
        assert update.status == 201, update.body
        done = await until(
            operator,
            f"/firmware-updates/{update.body['jobId']}",
            lambda b: b["endedAt"] is not None,
            timeout=60,
        )
        assert done["status"] == "Installed", done
        history = [h["status"] for h in done["history"]]
        assert history[:3] == ["Downloading", "Downloaded", "SignatureVerified"], history
        assert history[-1] == "Installed"
        await station.wait_accepted()  # it rebooted to install
        assert station.firmware_version == "sim-3.0"

        # A vendor's signing certificate the charger has no root for: refused at once.
        vendor = ca.create_authority(NOW, "Vendor firmware")
        image_bytes = (data_dir / "files" / "firmware" / str(image["firmwareId"])).read_bytes()
        signature = ca.sign_firmware(image_bytes, vendor.key, vendor.certificate)
        refused = await operator(
            "POST",
            f"/charge-points/{IDENTITY}/firmware-updates",
            {
                "firmwareId": image["firmwareId"],
                "signed": True,
                "signature": signature.signature,
                "signingCertificate": signature.signing_certificate,
            },
        )
        assert refused.status == 201, refused.body
        assert refused.body["status"] == "InvalidCertificate" and refused.body["endedAt"]

        # The security log, uploaded to ocppd.
        log_job = await operator(
            "POST", f"/charge-points/{IDENTITY}/logs", {"logType": "SecurityLog"}
        )
        assert log_job.status == 201, log_job.body
        uploaded = await until(
            operator,
            f"/logs/{log_job.body['jobId']}",
            lambda b: b["endedAt"] is not None,
            timeout=60,
        )
        assert uploaded["status"] == "Uploaded", uploaded
        text = (await operator("GET", f"/logs/{log_job.body['jobId']}/file")).body
        assert f"security log of {IDENTITY}" in text and "StartupOfTheDevice" in text

        events = await until(
            operator,
            "/security-events",
            lambda b: (
                {"StartupOfTheDevice", "FirmwareUpdated", "InvalidFirmwareSigningCertificate"}
                <= {e["type"] for e in b["items"]}
            ),
            timeout=60,
        )
    by_type = {e["type"]: e for e in events["items"]}
    assert by_type["StartupOfTheDevice"]["critical"] is True
    assert by_type["FirmwareUpdated"]["critical"] is True
    assert by_type["InvalidFirmwareSigningCertificate"]["critical"] is False
    assert {e["source"] for e in events["items"]} == {"charger"}
