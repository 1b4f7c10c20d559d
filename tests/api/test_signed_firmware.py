"""SignedUpdateFirmware jobs over real HTTP and a charger on a real socket: signed by ocppd's
firmware-signing key or by the operator, the image downloadable from the link, the charger's
SignedFirmwareStatusNotifications matched by requestId; refused input and refusals."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from ocppd.api.tokens import Role
from ocppd.csms import certificate_authority as ca
from tests.api.conftest import Api, charge_point
from tests.api.test_commands import with_security_extension
from tests.api.test_diagnostics import data_dir, http, until
from tests.api.test_firmware import upload

__all__ = ["data_dir"]  # the autouse fixture: files under the test's temporary directory

IMAGE = b"\x7fELF signed firmware " + bytes(range(256)) * 40
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def signed_update(cp: Any) -> dict[str, Any]:
    found: dict[str, Any] = next(p for a, p in reversed(cp.received) if a == "SignedUpdateFirmware")
    return found


async def test_ocppd_signs_the_image_and_the_job_follows_the_request_id(
    api: Api, data_dir: Path
) -> None:
    ca.CaFiles.of(data_dir).initialize(NOW)
    _, image = await upload(api, IMAGE, "?name=station-3.1.bin")
    operator = api.client(Role.OPERATOR)
    await with_security_extension(api)
    async with charge_point(api) as cp:
        cp.replies["SignedUpdateFirmware"] = {"status": "Accepted"}
        asked = await operator(
            "POST",
            "/charge-points/CP1/firmware-updates",
            {
                "firmwareId": image["firmwareId"],
                "signed": True,
                "retries": 2,
                "installDate": "2026-11-26T02:00:00+01:00",
            },
        )
        assert asked.status == 201, asked.body
        job = asked.body
        assert (job["signedBy"], job["kind"], job["status"]) == ("ocppd", "firmware", "Requested")
        sent = signed_update(cp)
        assert sent["requestId"] == job["requestId"] and sent["retries"] == 2
        firmware = sent["firmware"]
        assert firmware["installDateTime"] == "2026-11-26T01:00:00Z"
        assert firmware["location"].startswith(f"{api.url}/files/firmware/")
        assert firmware["location"].endswith("/station-3.1.bin")
        # The signature verifies over the image with the certificate sent, issued by the CA.
        certificate = firmware["signingCertificate"]
        assert ca.verify_firmware_signature(IMAGE, firmware["signature"], certificate)
        issuer = x509.load_pem_x509_certificate(certificate.encode()).issuer
        assert issuer == ca.CaFiles.of(data_dir).authority().certificate.subject
        # The link serves the image.
        assert await http("GET", firmware["location"]) == (200, IMAGE)
        for status in ("Downloading", "Downloaded", "SignatureVerified", "Installing"):
            notification = {"status": status, "requestId": job["requestId"]}
            assert await cp.ask("SignedFirmwareStatusNotification", notification) == {}
        # A status naming no job is acknowledged and changes nothing.
        stray = {"status": "InstallationFailed", "requestId": job["requestId"] ^ 0x55}
        assert await cp.ask("SignedFirmwareStatusNotification", stray) == {}
        installed = {"status": "Installed", "requestId": job["requestId"]}
        assert await cp.ask("SignedFirmwareStatusNotification", installed) == {}
    done = await until(
        operator, f"/firmware-updates/{job['jobId']}", lambda b: b["endedAt"] is not None
    )
    assert done["status"] == "Installed"
    assert [h["status"] for h in done["history"]] == [
        "Downloading",
        "Downloaded",
        "SignatureVerified",
        "Installing",
        "Installed",
    ]
    assert done["linkExpiresAt"] is None


async def test_an_invalid_signature_ends_the_job(api: Api, data_dir: Path) -> None:
    ca.CaFiles.of(data_dir).initialize(NOW)
    _, image = await upload(api, IMAGE)
    operator = api.client(Role.OPERATOR)
    await with_security_extension(api)
    async with charge_point(api) as cp:
        cp.replies["SignedUpdateFirmware"] = {"status": "Accepted"}
        job = (
            await operator(
                "POST",
                "/charge-points/CP1/firmware-updates",
                {"firmwareId": image["firmwareId"], "signed": True},
            )
        ).body
        location = signed_update(cp)["firmware"]["location"]
        for status in ("Downloaded", "InvalidSignature"):
            notification = {"status": status, "requestId": job["requestId"]}
            assert await cp.ask("SignedFirmwareStatusNotification", notification) == {}
        done = (await operator("GET", f"/firmware-updates/{job['jobId']}")).body
        assert (done["status"], done["endedAt"] is not None) == ("InvalidSignature", True)
        assert (await http("GET", location))[0] == 404  # the link ended with the job


async def test_the_operators_signature_is_checked_and_sent(api: Api, data_dir: Path) -> None:
    signer = ca.create_authority(NOW, "Vendor firmware")
    signature = ca.sign_firmware(IMAGE, signer.key, signer.certificate)
    _, image = await upload(api, IMAGE)
    operator = api.client(Role.OPERATOR)
    await with_security_extension(api)
    path = "/charge-points/CP1/firmware-updates"
    base = {"firmwareId": image["firmwareId"], "signed": True}
    async with charge_point(api) as cp:
        cp.replies["SignedUpdateFirmware"] = {"status": "Accepted"}
        other = ca.sign_firmware(b"other bytes", signer.key, signer.certificate)
        for body, field in [
            ({**base, "signature": signature.signature}, "signingCertificate"),
            ({**base, "signingCertificate": signature.signing_certificate}, "signature"),
            ({**base, "signature": other.signature, "signingCertificate": ca.pem(
                signer.certificate)}, "signature"),
            ({**base, "signature": signature.signature, "signingCertificate": "not PEM"},
             "signingCertificate"),
            ({**base, "signature": "x" * 801, "signingCertificate": "y"}, "signature"),
            ({**base, "signed": "yes"}, "signed"),
        ]:  # fmt: skip
            answer = await operator("POST", path, body)
            assert answer.status == 400, (body, answer.body)
            assert field in str(answer.body), (field, answer.body)
        assert cp.received == []
        asked = await operator(
            "POST",
            path,
            {
                **base,
                "signature": signature.signature,
                "signingCertificate": signature.signing_certificate,
            },
        )
        assert asked.status == 201, asked.body
        assert asked.body["signedBy"] == "operator"
        sent = signed_update(cp)["firmware"]
        assert sent["signature"] == signature.signature
        assert sent["signingCertificate"] == signature.signing_certificate


async def test_no_signing_key_is_409_and_a_refusal_ends_the_job(api: Api, data_dir: Path) -> None:
    # 200 characters that quote to 1,200 in a URL.
    _, image = await upload(api, IMAGE, "?name=" + "%C3%BC" * 200)
    operator = api.client(Role.OPERATOR)
    await with_security_extension(api)
    path = "/charge-points/CP1/firmware-updates"
    async with charge_point(api) as cp:
        answer = await operator("POST", path, {"firmwareId": image["firmwareId"], "signed": True})
        assert answer.status == 409 and "ca init" in answer.body["error"], answer.body
        assert cp.received == []
        assert (await operator("GET", "/charge-points/CP1/firmware-updates")).body["items"] == []

        ca.CaFiles.of(data_dir).initialize(NOW)
        cp.replies["SignedUpdateFirmware"] = {"status": "InvalidCertificate"}
        refused = await operator("POST", path, {"firmwareId": image["firmwareId"], "signed": True})
        assert refused.status == 201, refused.body
        assert (refused.body["status"], refused.body["endedAt"] is not None) == (
            "InvalidCertificate",
            True,
        )
        # A long image name is shortened in the link: a location holds 512 characters.
        location = signed_update(cp)["firmware"]["location"]
        tail = location.rsplit("/", 1)[1]
        assert 512 - 6 < len(location) <= 512
        assert len(tail) > 300 and tail == "%C3%BC" * (len(tail) // 6)  # whole characters
        assert (await http("GET", location))[0] == 404
