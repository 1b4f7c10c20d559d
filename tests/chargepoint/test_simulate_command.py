"""`ocppd simulate` end to end: a real process against the test central system."""

import asyncio
import json
import signal
import socket
import sys
from pathlib import Path

import pytest
from ocpp.v16 import call

from ocppd.chargepoint.fleet import identities
from tests.chargepoint.central import CentralSystem
from tests.chargepoint.ftp_servers import real_ftp_server
from tests.chargepoint.pki import Authority, ServerTls, key_pem, pem
from tests.chargepoint.test_files import file_server


async def simulate(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocppd",
        "simulate",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_three_stations_charge_and_report_a_summary() -> None:
    async with CentralSystem(interval=10) as central:
        code, out, err = await simulate(
            "--url", central.url, "--count", "3", "--id-pattern", "CP{n:04d}",
            "--scenario", "charge-session", "--duration", "1", "--speed", "200", "--json",
        )  # fmt: skip
        assert code == 0, err
        summary = json.loads(out)
        assert summary["stations"] == summary["accepted"] == 3
        assert summary["sent"]["BootNotification"] == 3
        assert summary["sent"]["StartTransaction"] == summary["sent"]["StopTransaction"] == 3
        assert summary["errors"] == {}
        assert sorted(central.logs) == ["CP0001", "CP0002", "CP0003"]
        for log in central.logs.values():
            # The last stop went out before the station left.
            assert [a for a, _ in log.received if "Transaction" in a] == [
                "StartTransaction",
                "StopTransaction",
            ]


async def test_text_summary_and_connection_errors_counted() -> None:
    # A port bound and never listening: connections are refused, and no other test's server
    # can take it meanwhile (a closed server's port could be, under pytest-xdist).
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{reserved.getsockname()[1]}/ocpp"
        code, out, err = await simulate("--url", url, "--duration", "0.5")
    assert code == 0, err
    assert "stations 1, accepted 0, connections 0" in out
    assert "connect ConnectionRefusedError" in out


def test_identities() -> None:
    assert identities(1, "CP1", None) == ["CP1"]
    assert identities(3, "CP", "CP{n:04d}") == ["CP0001", "CP0002", "CP0003"]
    assert identities(2, "Site", None) == ["Site-1", "Site-2"]
    with pytest.raises(ValueError, match="distinct"):
        identities(2, "CP", "CP")


async def test_workers_share_the_stations_and_their_counts_are_merged() -> None:
    async with CentralSystem(interval=10) as central:
        code, out, err = await simulate(
            "--url", central.url, "--count", "4", "--id-pattern", "W{n}", "--workers", "2",
            "--scenario", "charge-session", "--duration", "1.5", "--speed", "200", "--json",
        )  # fmt: skip
        assert code == 0, err
    summary = json.loads(out)
    assert (summary["workers"], summary["stations"], summary["accepted"]) == (2, 4, 4)
    assert summary["sent"]["BootNotification"] == 4
    assert summary["sent"]["StartTransaction"] == summary["sent"]["StopTransaction"] == 4
    assert summary["latency_ms"]["BootNotification"]["max"] > 0
    assert sorted(central.logs) == ["W1", "W2", "W3", "W4"]


async def test_the_live_view_shows_the_stations() -> None:
    async with CentralSystem() as central:
        code, out, err = await simulate(
            "--url", central.url, "--id", "LIVE1", "--live", "--duration", "1.6",
        )  # fmt: skip
    assert code == 0, err
    assert "online 1/1" in err
    assert "LIVE1" in err and "Available Available" in err
    assert "stations 1, accepted 1" in out


async def test_upload_method_ftp_is_an_ftp_only_charger(tmp_path: Path) -> None:
    """`--upload-method ftp`: GetDiagnostics to an ftp:// location is stored there; to an
    http:// one it fails (UploadFailed) without a request, as FTP-only chargers do."""
    (tmp_path / "up").mkdir()
    async with CentralSystem() as central, real_ftp_server(tmp_path) as ftp:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ocppd", "simulate", "--url", central.url, "--id", "FTP1",
            "--upload-method", "ftp", "--progress-interval", "0",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            cs = await central.station("FTP1", timeout=60)
            supported = await cs.call(call.GetConfiguration(key=["SupportedFileTransferProtocols"]))
            assert supported.configuration_key[0]["value"] == "FTP"
            with file_server() as http:
                await cs.call(call.GetDiagnostics(location=f"{http.url}/up/"))
                await cs.wait_for("DiagnosticsStatusNotification", count=2, timeout=60)
                answer = await cs.call(call.GetDiagnostics(location=f"{ftp}/up/"))
                await cs.wait_for("DiagnosticsStatusNotification", count=4, timeout=60)
            assert http.requests == []
        finally:
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.communicate(), 60)
    assert [p["status"] for p in cs.calls("DiagnosticsStatusNotification")] == [
        "Uploading",
        "UploadFailed",
        "Uploading",
        "Uploaded",
    ]
    assert b"identity: FTP1" in (tmp_path / "up" / answer.file_name).read_bytes()


async def test_ftp_tls_insists_on_tls(tmp_path: Path) -> None:
    """`--ftp-tls`: against a server without AUTH TLS the upload fails (nothing stored, the
    password never sent in the clear); with an HTTP-only upload method it is a usage error."""
    (tmp_path / "up").mkdir()
    code, _, err = await simulate(
        "--url", "ws://127.0.0.1:9/ocpp", "--ftp-tls", "--upload-method", "http"
    )
    assert code == 2 and "--ftp-tls with --upload-method http" in err, err
    ca_file = tmp_path / "ca.pem"  # trusted for FTPS; OCPP here is plain ws://
    ca_file.write_text(Authority.create().pem)
    async with CentralSystem() as central, real_ftp_server(tmp_path) as ftp:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ocppd", "simulate", "--url", central.url, "--id", "FTPS1",
            "--upload-method", "ftp", "--ftp-tls", "--ca-file", str(ca_file),
            "--progress-interval", "0",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            cs = await central.station("FTPS1", timeout=60)
            await cs.call(call.GetDiagnostics(location=f"{ftp}/up/"))
            await cs.wait_for("DiagnosticsStatusNotification", count=2, timeout=60)
        finally:
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.communicate(), 60)
    assert [p["status"] for p in cs.calls("DiagnosticsStatusNotification")] == [
        "Uploading",
        "UploadFailed",
    ]
    assert list((tmp_path / "up").iterdir()) == []


async def test_security_profile_3_with_a_client_certificate(tmp_path: Path) -> None:
    tls = ServerTls.create(tmp_path)
    key, certificate = tls.ca.leaf("CP1")
    (tmp_path / "cp.pem").write_text(pem(certificate))
    (tmp_path / "cp.key").write_text(key_pem(key))
    async with CentralSystem(tls=tls.context(True)) as central:
        code, out, err = await simulate(
            "--url", central.url, "--security-profile", "3", "--ca-file", str(tls.ca_file),
            "--client-cert", str(tmp_path / "cp.pem"), "--client-key", str(tmp_path / "cp.key"),
            "--duration", "2", "--json",
        )  # fmt: skip
        assert code == 0, err
        assert json.loads(out)["accepted"] == 1
        assert central.client_subjects == ["CP1"]
        # The extension is on with --security-profile: the boot's security event went out.
        assert central.logs["CP1"].calls("SecurityEventNotification")[0]["type"] == (
            "StartupOfTheDevice"
        )


async def test_a_client_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    tls = ServerTls.create(tmp_path)
    code, _, err = await simulate(
        "--url", "wss://127.0.0.1:1/ocpp", "--security-profile", "3",
        "--client-cert", str(tls.cert_file), "--client-key", str(tls.ca_file),
    )  # fmt: skip
    assert code == 2
    assert "not a PEM certificate and its key" in err
