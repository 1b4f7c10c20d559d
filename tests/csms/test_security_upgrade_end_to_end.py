"""The upgrade path against ocppd's own simulator (`ocppd simulate`, a real process): ocppd
serves a plain port and a TLS port with the certificates of its own CA (`ocppd ca init`), the
station starts on profile 1 (ws, Basic auth) trusting nothing. The operator's upgrade to
profile 2 installs ocppd's root in it, changes its SecurityProfile and sees it reconnect on
the TLS port, its stored profile raised by the admission; the upgrade to 3 has it make a CSR,
which waits for the operator's approval (the default signing policy), and once its
certificate is accepted it reconnects with it (mutual TLS)."""

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.api.tokens import Role
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.certificate_authority import CaFiles
from ocppd.csms.settings import Settings
from tests.api.conftest import Api, api_app, issue_tokens
from tests.eventually import eventually
from tests.servers import serving_tls

KEY = "0123456789abcdef0123"


@dataclass
class Served:
    api: Api
    tls_port: int


@pytest.fixture
async def served(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Served]:
    files = CaFiles.of(tmp_path / "data")
    files.initialize(datetime.now(UTC))
    settings = Settings(
        data_dir=tmp_path / "data",
        tls_cert=files.server_rsa_cert,
        tls_key=files.server_rsa_key,
        tls_ecdsa_cert=files.server_cert,
        tls_ecdsa_key=files.server_key,
    )
    system = CentralSystem(settings, engine=engine)
    await system.start()
    try:
        app = api_app(system)
        async with serving_tls(system, app) as (port, tls_port, _):
            yield Served(Api(system, port, app, await issue_tokens(system)), tls_port)
    finally:
        await system.stop()


async def simulate(served: Served, *args: str) -> "asyncio.subprocess.Process":
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ocppd", "simulate", "--id", "CP1",
        "--url", f"ws://127.0.0.1:{served.api.port}/ocpp",
        "--tls-url", f"wss://127.0.0.1:{served.tls_port}/ocpp",
        "--duration", "600", "--no-live", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def view(api: Api) -> dict[str, Any]:
    answer = await api.client(Role.VIEWER)("GET", "/charge-points/CP1")
    assert answer.status == 200, answer.body
    body: dict[str, Any] = answer.body
    return body


async def test_profile_1_to_2_with_the_simulator(served: Served, tmp_path: Path) -> None:
    api = served.api
    registered = await api.client(Role.ADMIN)(
        "PUT",
        "/charge-points/CP1",
        {"authorizationKey": KEY, "securityProfile": 1, "securityExtension": True},
    )
    assert registered.status == 201, registered.body
    station = await simulate(
        served, "--security-profile", "1", "--password", KEY, "--state-dir", str(tmp_path)
    )
    try:

        async def connected() -> bool:
            return bool((await view(api))["connected"])

        await eventually(connected, "the station connected on profile 1")
        started = await api.client(Role.OPERATOR)(
            "POST", "/charge-points/CP1/security-upgrade", {"profile": 2}
        )
        assert started.status == 202, started.body
        upgrade: dict[str, Any] = {}

        async def over() -> bool:
            answer = await api.client(Role.VIEWER)("GET", "/charge-points/CP1/security-upgrade")
            upgrade.update(answer.body)
            return bool(answer.body["status"] != "running")

        await eventually(over, "the upgrade ended", deadline=600)
        assert upgrade["status"] == "succeeded", upgrade
        assert [(s["name"], s["status"]) for s in upgrade["steps"]] == [
            ("InstallRootCertificate", "done"),
            ("ChangeSecurityProfile", "done"),
            ("ReconnectOnNewProfile", "done"),
        ]
        shown = await view(api)
        assert shown["securityProfile"] == 2, "raised by the connection on profile 2"
        await eventually(connected, "the station is connected (on the TLS port)")
        assert "CP1" in api.system.connections

        events = api.system.events.subscribe()
        started = await api.client(Role.OPERATOR)(
            "POST", "/charge-points/CP1/security-upgrade", {"profile": 3}
        )
        assert started.status == 202, started.body
        assert started.body["previous"] == 2
        # The CSR waits for an operator (the default policy): approve it as one would.
        while True:
            event = await events.next(120)
            assert event is not None, "no certificate request from the station"
            if event.type == "CertificateRequested" and event.charge_point_id == "CP1":
                break
        events.close()
        assert event.data["status"] == "pending", event.data
        approved = await api.client(Role.ADMIN)(
            "POST", f"/certificate-requests/{event.data['requestId']}/approve"
        )
        assert approved.status == 200, approved.body
        upgrade.clear()
        await eventually(over, "the upgrade to 3 ended", deadline=600)
        assert upgrade["status"] == "succeeded", upgrade
        assert [(s["name"], s["status"]) for s in upgrade["steps"]] == [
            ("InstallRootCertificate", "done"),
            ("SignChargePointCertificate", "done"),
            ("ChangeSecurityProfile", "done"),
            ("ReconnectOnNewProfile", "done"),
        ]
        assert (
            f"certificate request {event.data['requestId']} signed"
            in (upgrade["steps"][1]["detail"])
        )
        assert (await view(api))["securityProfile"] == 3
        await eventually(connected, "the station is connected with its certificate")

        async def in_use() -> bool:
            path = f"/certificate-requests/{event.data['requestId']}"
            return bool((await api.client(Role.VIEWER)("GET", path)).body["status"] == "in-use")

        await eventually(in_use, "the station connected with the certificate ocppd issued")
    finally:
        if station.returncode is None:
            station.send_signal(signal.SIGINT)
        await asyncio.wait_for(station.communicate(), 60)
    assert station.returncode is not None
