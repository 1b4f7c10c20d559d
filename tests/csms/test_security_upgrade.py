"""The upgrade path (issue 19, item 4) over real HTTP and a charger on a real WebSocket that
answers the commands: each step shown as it goes, a failure at any step ends the upgrade with
the stored profile unchanged (the charger is still admitted on it), preconditions refused
with 409 before anything is sent.

The events of the other parts (`CertificateRequested`/`CertificateSent` of the certificate
requests, `SecurityProfileRaised` of the admission) are published here by the test, as
those parts publish them; the whole path against the real parts is in
tests/csms/test_security_upgrade_end_to_end.py."""

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.api.tokens import Role
from ocppd.csms.central_system import CentralSystem
from ocppd.csms.certificate_authority import CaFiles, create_authority, pem
from ocppd.csms.models import charge_points, security_upgrades
from ocppd.csms.security_upgrade import Timeouts, UpgradeRefused
from ocppd.csms.settings import Settings
from tests.api.conftest import Api, CallError, FakeChargePoint, api_app, charge_point, issue_tokens
from tests.api.test_cli import cli
from tests.csms.conftest import FixedClock
from tests.eventually import eventually
from tests.servers import serving

PATH = "/charge-points/CP1/security-upgrade"
KEY = "0123456789abcdef0123"
BASIC = {"Authorization": "Basic " + base64.b64encode(f"CP1:{KEY}".encode()).decode()}


@pytest.fixture
async def api(engine: AsyncEngine, clock: FixedClock, tmp_path: Path) -> AsyncIterator[Api]:
    """`ocppd serve` with a CA made by `ocppd ca init` in its data dir, and its TLS server
    certificate issued by it."""
    files = CaFiles.of(tmp_path / "data")
    files.initialize(datetime.now(UTC))
    settings = Settings(data_dir=tmp_path / "data")
    system = CentralSystem(settings, clock=clock, engine=engine)
    await system.start()
    try:
        app = api_app(system)
        async with serving(system, app) as port:
            # The server certificate the upgrade checks the root against; the test's own
            # listener stays plain (the chargers here are plain WebSocket clients).
            system.settings = replace(settings, tls_cert=files.server_cert)
            yield Api(system, port, app, await issue_tokens(system))
    finally:
        await system.stop()


async def prepare(api: Api, profile: int = 1, extension: bool = True, key: bool = True) -> None:
    settings: dict[str, Any] = {"securityProfile": profile, "securityExtension": extension}
    if key:
        settings["authorizationKey"] = KEY
    answer = await api.client(Role.ADMIN)("PUT", "/charge-points/CP1", settings)
    assert answer.status in (200, 201), answer.body


async def ended(api: Api) -> dict[str, Any]:
    """The upgrade once it has ended."""
    shown: dict[str, Any] = {}

    async def over() -> bool:
        answer = await api.client(Role.VIEWER)("GET", PATH)
        assert answer.status == 200, answer.body
        shown.update(answer.body)
        return bool(answer.body["status"] != "running")

    await eventually(over, "the upgrade ended")
    return shown


def statuses(upgrade: dict[str, Any]) -> list[tuple[str, str]]:
    return [(step["name"], step["status"]) for step in upgrade["steps"]]


async def stored_profile(api: Api) -> int:
    async with api.system.engine.connect() as db:
        return int(
            (
                await db.execute(
                    sa.select(charge_points.c.security_profile).where(charge_points.c.id == "CP1")
                )
            ).scalar_one()
        )


def raise_on_change(api: Api, cp: FakeChargePoint, answer: str = "Accepted") -> None:
    """The charger accepts the new profile and (as the admission does when it reconnects on
    it) the stored profile is raised and `SecurityProfileRaised` published."""

    def changed(payload: dict[str, Any]) -> dict[str, Any]:
        async def reconnected() -> None:
            async with api.system.engine.begin() as db:
                await db.execute(
                    charge_points.update()
                    .where(charge_points.c.id == "CP1")
                    .values(security_profile=int(payload["value"]))
                )
            api.system.events.publish(
                "SecurityProfileRaised",
                "CP1",
                api.system.clock(),
                previous=1,
                profile=int(payload["value"]),
            )

        asyncio.get_running_loop().create_task(reconnected())
        return {"status": answer}

    cp.replies["ChangeConfiguration"] = changed


async def test_profile_1_to_2_step_by_step(api: Api) -> None:
    await prepare(api)
    async with charge_point(api, "CP1", BASIC) as cp:
        cp.replies["InstallCertificate"] = {"status": "Accepted"}
        raise_on_change(api, cp)
        events = api.system.events.subscribe()
        started = await api.client(Role.OPERATOR)("POST", PATH, {"profile": 2})
        assert started.status == 202, started.body
        assert (started.body["profile"], started.body["previous"]) == (2, 1)
        assert [s["name"] for s in started.body["steps"]] == [
            "InstallRootCertificate",
            "ChangeSecurityProfile",
            "ReconnectOnNewProfile",
        ]
        upgrade = await ended(api)
    assert upgrade["status"] == "succeeded", upgrade
    assert statuses(upgrade) == [
        ("InstallRootCertificate", "done"),
        ("ChangeSecurityProfile", "done"),
        ("ReconnectOnNewProfile", "done"),
    ]
    assert all(step["at"] for step in upgrade["steps"])
    assert upgrade["steps"][2]["detail"] == "connected on profile 2"
    install, change = cp.received
    assert install == (
        "InstallCertificate",
        {
            "certificateType": "CentralSystemRootCertificate",
            "certificate": CaFiles.of(api.system.settings.data_dir).ca_cert.read_text(),
        },
    )
    assert change == ("ChangeConfiguration", {"key": "SecurityProfile", "value": "2"})
    seen: list[tuple[str, ...]] = []
    while not seen or seen[-1][0] != "succeeded":
        event = await events.next(30)
        assert event is not None, f"the upgrade's events so far: {seen}"
        if event.type == "SecurityUpgrade":
            seen.append((event.data["status"], *(s["status"] for s in event.data["steps"])))
    events.close()
    assert seen[0] == ("running", "pending", "pending", "pending"), "each change is published"
    assert ("running", "done", "running", "pending") in seen


async def test_profile_3_waits_for_the_signed_certificate(api: Api) -> None:
    await prepare(api)
    async with charge_point(api, "CP1", BASIC) as cp:
        cp.replies["InstallCertificate"] = {"status": "Accepted"}

        def triggered(payload: dict[str, Any]) -> dict[str, Any]:
            async def certificate_flow() -> None:
                now = api.system.clock()
                api.system.events.publish(
                    "CertificateRequested", "CP1", now, requestId=7, status="pending"
                )
                # Another charger's request is not this one's.
                api.system.events.publish("CertificateSent", "CP2", now, requestId=7)
                api.system.events.publish(
                    "CertificateSent", "CP1", now, requestId=7, serialNumber="1f", status="Accepted"
                )

            asyncio.get_running_loop().create_task(certificate_flow())
            return {"status": "Accepted"}

        cp.replies["ExtendedTriggerMessage"] = triggered
        raise_on_change(api, cp, "RebootRequired")
        started = await api.client(Role.OPERATOR)("POST", PATH, {"profile": 3})
        assert started.status == 202, started.body
        upgrade = await ended(api)
    assert upgrade["status"] == "succeeded", upgrade
    assert statuses(upgrade) == [
        ("InstallRootCertificate", "done"),
        ("SignChargePointCertificate", "done"),
        ("ChangeSecurityProfile", "done"),
        ("ReconnectOnNewProfile", "done"),
    ]
    assert "certificate request 7 signed" in upgrade["steps"][1]["detail"]
    assert "serial 1f" in upgrade["steps"][1]["detail"]
    assert upgrade["steps"][2]["detail"].startswith("RebootRequired")
    assert [action for action, _ in cp.received] == [
        "InstallCertificate",
        "ExtendedTriggerMessage",
        "ChangeConfiguration",
    ]
    assert cp.received[1][1] == {"requestedMessage": "SignChargePointCertificate"}
    assert await stored_profile(api) == 3


@pytest.mark.parametrize(
    ("replies", "failed_step", "detail"),
    [
        (
            {"InstallCertificate": {"status": "Rejected"}},
            "InstallRootCertificate",
            "the charger answered InstallCertificate Rejected",
        ),
        (
            {"InstallCertificate": CallError("NotImplemented")},
            "InstallRootCertificate",
            "InstallCertificate not answered: CallErrorReceived",
        ),
        (
            {
                "InstallCertificate": {"status": "Accepted"},
                "ChangeConfiguration": {"status": "Rejected"},
            },
            "ChangeSecurityProfile",
            "the charger answered ChangeConfiguration Rejected",
        ),
        (
            {
                "InstallCertificate": {"status": "Accepted"},
                "ChangeConfiguration": {"status": "Accepted"},
            },
            "ReconnectOnNewProfile",
            "no connection on profile 2 within 1 s; its stored profile is still 1",
        ),
    ],
)
async def test_a_failed_step_ends_it_and_leaves_the_old_profile(
    api: Api, replies: dict[str, Any], failed_step: str, detail: str
) -> None:
    await prepare(api)
    async with charge_point(api, "CP1", BASIC) as cp:
        cp.replies.update(replies)
        started = await api.client(Role.OPERATOR)(
            "POST", PATH, {"profile": 2, "reconnectionTimeout": 1}
        )
        assert started.status == 202, started.body
        upgrade = await ended(api)
        assert upgrade["status"] == "failed"
        names = [step["name"] for step in upgrade["steps"]]
        failed_at = names.index(failed_step)
        assert [step["status"] for step in upgrade["steps"]] == (
            ["done"] * failed_at + ["failed"] + ["skipped"] * (len(names) - failed_at - 1)
        )
        assert detail in upgrade["steps"][failed_at]["detail"]
        sent = [action for action, _ in cp.received]
        if failed_step == "InstallRootCertificate":
            assert sent == ["InstallCertificate"], "nothing after the failed step"
        assert await stored_profile(api) == 1
        # Still connected on its old profile, and another upgrade may start.
        assert (await api.client(Role.VIEWER)("GET", "/charge-points/CP1")).body["connected"]
        cp.replies["InstallCertificate"] = {"status": "Rejected"}
        again = await api.client(Role.OPERATOR)("POST", PATH, {"profile": 2})
        assert again.status == 202, again.body
        await ended(api)


async def test_profile_3_fails_on_a_rejected_certificate_request(api: Api) -> None:
    await prepare(api)
    async with charge_point(api, "CP1", BASIC) as cp:
        cp.replies["InstallCertificate"] = {"status": "Accepted"}

        def triggered(payload: dict[str, Any]) -> dict[str, Any]:
            api.system.events.publish(
                "CertificateRequested",
                "CP1",
                api.system.clock(),
                requestId=8,
                status="rejected",
                reason="RSA key of 1024 bits",
            )
            return {"status": "Accepted"}

        cp.replies["ExtendedTriggerMessage"] = triggered
        await api.client(Role.OPERATOR)("POST", PATH, {"profile": 3})
        upgrade = await ended(api)
    assert statuses(upgrade)[1] == ("SignChargePointCertificate", "failed")
    assert upgrade["steps"][1]["detail"] == (
        "its certificate request was rejected: RSA key of 1024 bits"
    )
    assert "ChangeConfiguration" not in [action for action, _ in cp.received]


async def test_preconditions_are_409_and_nothing_is_sent(api: Api, tmp_path: Path) -> None:
    operator = api.client(Role.OPERATOR)
    unknown = await operator("POST", PATH, {"profile": 2})
    assert unknown.status == 404, unknown.body
    await prepare(api, profile=0, key=False)
    async with charge_point(api, "CP1") as cp:
        other_ca = pem(create_authority(datetime.now(UTC)).certificate)
        for body, settings, reason in [
            ({"profile": 2}, {}, "has no AuthorizationKey"),
            ({"profile": 3}, {"securityExtension": False}, "security extension enabled"),
            ({"profile": 3}, {"securityProfile": 3}, "on security profile 3 already"),
            ({"profile": 3, "rootCertificate": "garbage"}, {}, "not a PEM certificate"),
            (
                {"profile": 3, "rootCertificate": other_ca},
                {},
                "TLS server certificate does not chain to this root",
            ),
        ]:
            if settings:
                await api.client(Role.ADMIN)("PATCH", "/charge-points/CP1", settings)
            refused = await operator("POST", PATH, body)
            assert refused.status == 409, (body, refused.body)
            assert refused.body["error"].startswith("not started: ")
            assert reason in refused.body["error"], refused.body
            if settings:
                undo = {"securityExtension": True, "securityProfile": 0}
                await api.client(Role.ADMIN)("PATCH", "/charge-points/CP1", undo)
        assert cp.received == []
        cp.replies["InstallCertificate"] = {"status": "Accepted"}
        cp.replies["ExtendedTriggerMessage"] = {"status": "Accepted"}
        slow = await operator("POST", PATH, {"profile": 3, "certificateTimeout": 1})
        assert slow.status == 202
        running = await operator("POST", PATH, {"profile": 3})
        assert (running.status, running.body["error"]) == (
            409,
            "not started: an upgrade of 'CP1' is running already",
        )
        upgrade = await ended(api)
        assert upgrade["steps"][1]["detail"] == (
            "no certificate request (SignCertificate) from the charger"
        )
    offline = await operator("POST", PATH, {"profile": 3})
    assert (offline.status, offline.body["error"]) == (
        409,
        "not started: charge point 'CP1' is not connected",
    )
    viewer = await api.client(Role.VIEWER)("POST", PATH, {"profile": 3})
    assert viewer.status == 403


async def test_bad_bodies_are_400_naming_the_field(api: Api) -> None:
    await prepare(api)
    operator = api.client(Role.OPERATOR)
    for body, field in [
        ({}, "profile"),
        ({"profile": 1}, "profile"),
        ({"profile": 4}, "profile"),
        ({"profile": "3"}, "profile"),
        ({"profile": 3, "reconnectionTimeout": 0}, "reconnectionTimeout"),
        ({"profile": 3, "reconnectionTimeout": 3601}, "reconnectionTimeout"),
        ({"profile": 3, "certificateTimeout": 86401}, "certificateTimeout"),
        ({"profile": 3, "commandTimeout": 601}, "commandTimeout"),
        ({"profile": 3, "rootCertificate": ""}, "rootCertificate"),
        ({"profile": 3, "rootCertificate": "x" * 5501}, "rootCertificate"),
        ({"profile": 3, "surprise": 1}, "surprise"),
    ]:
        answer = await operator("POST", PATH, body)
        assert answer.status == 400, (body, answer.body)
        assert field in answer.body["error"], answer.body
    none = await api.client(Role.VIEWER)("GET", PATH)
    assert (none.status, none.body["error"]) == (404, "no security upgrade of 'CP1'")


async def test_no_ca_and_no_root_given_is_409(
    engine: AsyncEngine, clock: FixedClock, tmp_path: Path
) -> None:
    system = CentralSystem(Settings(data_dir=tmp_path / "empty"), clock=clock, engine=engine)
    await system.start()
    try:
        app = api_app(system)
        async with serving(system, app) as port:
            api = Api(system, port, app, await issue_tokens(system))
            await prepare(api)
            async with charge_point(api, "CP1", BASIC) as cp:
                refused = await api.client(Role.OPERATOR)("POST", PATH, {"profile": 2})
                assert refused.status == 409
                assert "ocppd has no CA" in refused.body["error"]
                # The operator's own root: no --tls-cert to check it against, so it goes.
                cp.replies["InstallCertificate"] = {"status": "Rejected"}
                root = pem(create_authority(datetime.now(UTC)).certificate)
                given = await api.client(Role.OPERATOR)(
                    "POST", PATH, {"profile": 2, "rootCertificate": root}
                )
                assert given.status == 202, given.body
                await ended(api)
                assert cp.received == [
                    (
                        "InstallCertificate",
                        {"certificateType": "CentralSystemRootCertificate", "certificate": root},
                    )
                ]
    finally:
        await system.stop()


async def test_the_cli_follows_an_upgrade_step_by_step(api: Api, tmp_path: Path) -> None:
    """`ocppd charge-point security-upgrade` against the running server: each step on stderr
    as it goes, the upgrade as JSON, exit 1 when it failed or was refused."""
    await prepare(api)
    async with charge_point(api, "CP1", BASIC) as cp:
        cp.replies["InstallCertificate"] = {"status": "Accepted"}
        raise_on_change(api, cp)
        done = await cli(
            api, Role.OPERATOR, "charge-point", "security-upgrade", "CP1", "--profile", "2"
        )
        assert done.exit_code == 0, done.output
        for name in ("InstallRootCertificate", "ChangeSecurityProfile", "ReconnectOnNewProfile"):
            assert f"{name} done" in done.stderr, done.stderr
        assert json.loads(done.stdout)["status"] == "succeeded"
        again = await cli(
            api, Role.OPERATOR, "charge-point", "security-upgrade", "CP1", "--profile", "2"
        )
        assert again.exit_code == 1
        assert "409: not started: 'CP1' is on security profile 2 already" in again.output
        cp.replies["InstallCertificate"] = {"status": "Rejected"}
        other_root = tmp_path / "root.pem"
        other_root.write_text(CaFiles.of(api.system.settings.data_dir).ca_cert.read_text())
        failed = await cli(
            api, Role.OPERATOR, "charge-point", "security-upgrade", "CP1", "--profile", "3",
            "--root-certificate", str(other_root), "--certificate-timeout", "5",
        )  # fmt: skip
        assert failed.exit_code == 1, failed.output
        assert (
            "InstallRootCertificate failed: the charger answered InstallCertificate Rejected"
            in (failed.stderr)
        )
        assert "the security upgrade of CP1 failed" in failed.stderr
    bad = await cli(api, Role.OPERATOR, "charge-point", "security-upgrade", "CP1", "--profile", "4")
    assert bad.exit_code == 2 and "'--profile'" in bad.output


async def test_two_requests_at_once_start_one_upgrade(api: Api) -> None:
    """The second arrives while the first one's checks still wait on the database: one runs,
    the other is refused, and the charger is asked once."""
    await prepare(api)
    async with charge_point(api, "CP1", BASIC) as cp:
        cp.replies["InstallCertificate"] = {"status": "Accepted"}
        cp.replies["ExtendedTriggerMessage"] = {"status": "Accepted"}
        upgrades = api.system.security_upgrades
        timeouts = Timeouts(command=10, certificate=1, reconnection=10)
        started = await asyncio.gather(
            *(upgrades.start("CP1", 3, timeouts) for _ in range(2)), return_exceptions=True
        )
        [refused] = [outcome for outcome in started if isinstance(outcome, UpgradeRefused)]
        assert str(refused) == "an upgrade of 'CP1' is running already"
        await ended(api)
        assert [action for action, _ in cp.received].count("InstallCertificate") == 1


async def test_another_node_shows_the_upgrade_and_a_lost_one_ends_failed(
    api: Api, clock: FixedClock
) -> None:
    """The upgrade is stored as it goes: a second central system on the same database (another
    node, or this one restarted) shows it; one left `running` by a node that was killed is
    shown failed once past its deadline, and a new one may start."""
    await prepare(api)
    async with charge_point(api, "CP1", BASIC) as cp:
        cp.replies["InstallCertificate"] = {"status": "Rejected"}
        started = await api.client(Role.OPERATOR)("POST", PATH, {"profile": 2})
        assert started.status == 202, started.body
        upgrade = await ended(api)
    other = CentralSystem(api.system.settings, clock=clock, engine=api.system.engine)
    assert await other.security_upgrades.shown("CP1") == {
        **upgrade,
        "startedAt": datetime.fromisoformat(upgrade["startedAt"]),
        "endedAt": datetime.fromisoformat(upgrade["endedAt"]),
    }

    # A node killed while its upgrade waited for the reconnection: its row says running.
    async with api.system.engine.begin() as db:
        await db.execute(
            security_upgrades.update().values(
                status="running",
                ended_at=None,
                node="node-b",
                deadline_at=clock.now + timedelta(seconds=60),
                steps=json.dumps(
                    [
                        {"name": "InstallRootCertificate", "status": "done", "at": None,
                         "detail": None},
                        {"name": "ChangeSecurityProfile", "status": "done", "at": None,
                         "detail": None},
                        {"name": "ReconnectOnNewProfile", "status": "running", "at": None,
                         "detail": None},
                    ]
                ),
            )
        )  # fmt: skip
    async with charge_point(api, "CP1", BASIC) as cp:
        refused = await api.client(Role.OPERATOR)("POST", PATH, {"profile": 2})
        assert refused.status == 409, refused.body
        assert "running already" in refused.body["error"]
        assert cp.received == [], "nothing sent"
        shown = (await api.client(Role.VIEWER)("GET", PATH)).body
        assert shown["status"] == "running"

        clock.now += timedelta(seconds=61)
        lost = (await api.client(Role.VIEWER)("GET", PATH)).body
        assert lost["status"] == "failed" and lost["endedAt"] is not None
        assert [step["status"] for step in lost["steps"]] == ["done", "done", "failed"]
        assert lost["steps"][2]["detail"] == (
            "not finished by its deadline: the node that ran it (node-b) stopped"
        )
        cp.replies["InstallCertificate"] = {"status": "Rejected"}
        again = await api.client(Role.OPERATOR)("POST", PATH, {"profile": 2})
        assert again.status == 202, again.body
        assert (await ended(api))["status"] == "failed"


def test_an_upgrades_deadline_is_the_sum_of_its_timeouts() -> None:
    timeouts = Timeouts(command=30, certificate=600, reconnection=300)
    assert timeouts.total(2) == timedelta(seconds=2 * 30 + 300)
    assert timeouts.total(3) == timedelta(seconds=3 * 30 + 600 + 300)
