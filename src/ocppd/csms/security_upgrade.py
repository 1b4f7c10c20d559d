"""Raising a connected charger's security profile (to 2 or 3) step by step, the OCPA white
paper's way, and showing each step (issue 19, item 4; decision 0006, "Upgrade path").

1. `InstallRootCertificate`: InstallCertificate CentralSystemRootCertificate with the root of
   ocppd's TLS server certificate (the operator's `rootCertificate`, else ocppd's CA:
   `--ca-cert`, else `<data-dir>/ca/ca.pem`), answered Accepted. Without it the charger
   cannot check ocppd's server certificate on profile 2 or 3.
2. `SignChargePointCertificate` (profile 3 only): ExtendedTriggerMessage
   SignChargePointCertificate answered Accepted; the charger's CSR arrives
   (`CertificateRequested`, from `certificate_requests`: rejected fails the step), is signed
   (automatically or by an operator) and CertificateSigned is answered Accepted
   (`CertificateSent`).
3. `ChangeSecurityProfile`: ChangeConfiguration SecurityProfile = N, answered Accepted (or
   RebootRequired: the charger applies it when it reboots).
4. `ReconnectOnNewProfile`: the charger connects on profile N, which the admission stores and
   publishes (`SecurityProfileRaised`).

Each step waits for its answer or event, within its timeout (bounded by the API). A failed
step ends the upgrade (the steps after it are `skipped`). Nothing here changes the stored
profile: only a connection on the new profile raises it, so after any failure the charger
is still admitted on its old profile (it falls back to it when the new one fails, as the
white paper says it must).

Preconditions, checked before anything is sent (`UpgradeRefused`, the API's 409): the charger
is connected, has the security extension, its stored profile is lower than N, no upgrade of
it is running; profile 2 needs its AuthorizationKey (Basic auth); the root is a certificate,
and when ocppd serves TLS (`--tls-cert`) the server certificate chains to it.

The node that runs an upgrade records each change in the database (`security_upgrades`, the
latest per charger), so every node of a cluster shows it and it outlives that node, and
publishes it as `SecurityUpgrade`. Starting one claims the charger's row in one statement: two
requests at once, on one node or two, start one upgrade. A `running` upgrade past its deadline
(the sum of its timeouts, and a minute) was lost with the node that ran it (killed): it is
shown failed, and a new one may start.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import msgspec
import sqlalchemy as sa
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from ocppd.csms.certificate_requests import trusted_ca_file
from ocppd.csms.clock import as_utc
from ocppd.csms.events import Event, Subscription
from ocppd.csms.models import charge_points, security_upgrades
from ocppd.csms.settings import node_name
from ocppd.csms.system_services import SystemServices
from ocppd.protocol import messages as m
from ocppd.protocol import security as s
from ocppd.protocol.enums import CertificateUse, ExtendedMessageTrigger

log = logging.getLogger("ocppd.csms.security_upgrade")

INSTALL_ROOT = "InstallRootCertificate"
SIGN_CERTIFICATE = "SignChargePointCertificate"
CHANGE_PROFILE = "ChangeSecurityProfile"
RECONNECT = "ReconnectOnNewProfile"

PENDING, RUNNING, DONE, FAILED, SKIPPED = "pending", "running", "done", "failed", "skipped"
SUCCEEDED = "succeeded"
EVENT = "SecurityUpgrade"
DEADLINE_MARGIN = timedelta(minutes=1)
"""Beyond the sum of an upgrade's timeouts: a `running` one older than that was lost."""


class UpgradeRefused(Exception):
    """An upgrade not started: a precondition does not hold (nothing was sent)."""


class UpgradeServices(SystemServices, Protocol):
    """Besides the shared services: sending a request to a charger (`CentralSystem.call`) and
    whether one is connected anywhere."""

    async def call(self, identity: str, request: Any, timeout: float | None = None) -> Any: ...
    async def connected(self) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class Timeouts:
    command: float
    """Seconds for each command's answer."""
    certificate: float
    """Seconds from the trigger to the charger's answer to CertificateSigned (an operator's
    approval included)."""
    reconnection: float
    """Seconds from the profile's change to the connection on the new profile."""

    def total(self, profile: int) -> timedelta:
        """The longest an upgrade to `profile` can run: a command per step before the
        reconnection (and the trigger of profile 3's certificate), the certificate's wait,
        the reconnection."""
        commands = 3 if profile == 3 else 2
        seconds = commands * self.command + self.reconnection
        if profile == 3:
            seconds += self.certificate
        return timedelta(seconds=seconds)


@dataclass(slots=True)
class Step:
    name: str
    status: str = PENDING
    at: datetime | None = None
    detail: str | None = None


@dataclass(slots=True)
class Upgrade:
    charge_point_id: str
    profile: int
    previous: int
    timeouts: Timeouts
    root_certificate: str
    started_at: datetime
    steps: list[Step]
    node: str = ""
    status: str = RUNNING
    ended_at: datetime | None = None

    @property
    def deadline(self) -> datetime:
        return self.started_at + self.timeouts.total(self.profile) + DEADLINE_MARGIN

    def shown(self) -> dict[str, Any]:
        return {
            "chargePointId": self.charge_point_id,
            "profile": self.profile,
            "previous": self.previous,
            "status": self.status,
            "startedAt": self.started_at,
            "endedAt": self.ended_at,
            "steps": [
                {"name": p.name, "status": p.status, "at": p.at, "detail": p.detail}
                for p in self.steps
            ],
        }

    def row(self) -> dict[str, Any]:
        """As `security_upgrades` stores it."""
        return {
            "charge_point_id": self.charge_point_id,
            "profile": self.profile,
            "previous": self.previous,
            "status": self.status,
            "node": self.node,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "deadline_at": self.deadline,
            "steps": msgspec.json.encode(self.shown()["steps"]).decode(),
        }


def shown_from_row(row: Any, now: datetime) -> dict[str, Any]:
    """An upgrade as stored, as `Upgrade.shown` gives it; one still `running` past its
    deadline is shown as what it is: failed, lost with the node that ran it."""
    steps = msgspec.json.decode(row.steps)
    status, ended_at = row.status, row.ended_at
    deadline = as_utc(row.deadline_at)
    if status == RUNNING and now > deadline:
        status, ended_at = FAILED, deadline
        lost = f"not finished by its deadline: the node that ran it ({row.node}) stopped"
        for step in steps:
            if step["status"] == RUNNING:
                step.update(status=FAILED, detail=lost)
            elif step["status"] == PENDING:
                step["status"] = SKIPPED
    return {
        "chargePointId": row.charge_point_id,
        "profile": row.profile,
        "previous": row.previous,
        "status": status,
        "startedAt": as_utc(row.started_at),
        "endedAt": None if ended_at is None else as_utc(ended_at),
        "steps": steps,
    }


class StepFailed(Exception):
    """The running step failed, for the reason given."""


class SecurityUpgrades:
    def __init__(self, system: UpgradeServices) -> None:
        self.system = system
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(
        self,
        charge_point_id: str,
        profile: int,
        timeouts: Timeouts,
        root_certificate: str | None = None,
    ) -> Upgrade:
        """Check the preconditions and start the upgrade (it runs on in a task of its own)."""
        if profile not in (2, 3):
            raise UpgradeRefused(f"profile {profile}: an upgrade goes to profile 2 or 3")
        upgrade = await self._checked(charge_point_id, profile, timeouts, root_certificate)
        # Nothing has been sent yet: two requests at once, here or on two nodes, both pass
        # the checks, and the claim lets one of them run.
        await self._claim(upgrade)
        # Subscribed before anything is sent: no event of the charger's can come too early.
        subscription = self.system.events.subscribe()
        task = asyncio.create_task(self._run(upgrade, subscription))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._publish(upgrade)
        return upgrade

    async def _checked(
        self,
        charge_point_id: str,
        profile: int,
        timeouts: Timeouts,
        root_certificate: str | None,
    ) -> Upgrade:
        """The upgrade, once its preconditions hold (else `UpgradeRefused`)."""
        previous, extension, has_key = await self._stored(charge_point_id)
        if not extension:
            raise UpgradeRefused(
                f"{charge_point_id!r} does not have the security extension enabled "
                "(securityExtension): InstallCertificate cannot be sent to it"
            )
        if previous >= profile:
            raise UpgradeRefused(
                f"{charge_point_id!r} is on security profile {previous} already; an upgrade "
                "only raises it"
            )
        if profile == 2 and not has_key:
            raise UpgradeRefused(
                f"profile 2 uses HTTP Basic auth and {charge_point_id!r} has no "
                "AuthorizationKey: set one first"
            )
        if charge_point_id not in await self.system.connected():
            raise UpgradeRefused(f"charge point {charge_point_id!r} is not connected")
        root = root_certificate or self._ocppd_root()
        check_root(root, self.system.settings.tls_cert)
        names = [INSTALL_ROOT, *([SIGN_CERTIFICATE] if profile == 3 else []), CHANGE_PROFILE]
        return Upgrade(
            charge_point_id,
            profile,
            previous,
            timeouts,
            root,
            self.system.clock(),
            [Step(name) for name in [*names, RECONNECT]],
            node=node_name(self.system.settings),
        )

    async def _claim(self, upgrade: Upgrade) -> None:
        """The charger's row, in one statement: replaced when its upgrade is not running (or
        was lost), inserted when it has none; refused when another runs, on any node."""
        t = security_upgrades
        row = upgrade.row()
        now = upgrade.started_at
        running = sa.and_(t.c.status == RUNNING, t.c.deadline_at > now)
        async with self.system.engine.begin() as db:
            replaced = await db.execute(
                t.update()
                .where(t.c.charge_point_id == upgrade.charge_point_id, sa.not_(running))
                .values(row)
            )
            if replaced.rowcount == 1:
                return
        try:
            async with self.system.engine.begin() as db:
                await db.execute(t.insert().values(row))
        except sa.exc.IntegrityError:
            raise UpgradeRefused(
                f"an upgrade of {upgrade.charge_point_id!r} is running already"
            ) from None

    async def shown(self, charge_point_id: str) -> dict[str, Any] | None:
        """The charger's latest upgrade as any node recorded it; None when it has had none."""
        t = security_upgrades
        async with self.system.engine.connect() as db:
            row = (
                await db.execute(sa.select(t).where(t.c.charge_point_id == charge_point_id))
            ).first()
        return None if row is None else shown_from_row(row, self.system.clock())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _stored(self, charge_point_id: str) -> tuple[int, bool, bool]:
        """Its stored profile, whether it has the extension, whether it has a key."""
        c = charge_points.c
        async with self.system.engine.connect() as db:
            row = (
                await db.execute(
                    sa.select(c.security_profile, c.security_extension, c.auth_key_hash).where(
                        c.id == charge_point_id
                    )
                )
            ).first()
        if row is None:
            raise UnknownChargePoint(f"unknown charge point {charge_point_id!r}")
        return int(row[0]), bool(row[1]), row[2] is not None

    def _ocppd_root(self) -> str:
        path = trusted_ca_file(self.system.settings)
        if path is None:
            raise UpgradeRefused(
                "no root certificate to install: ocppd has no CA (ocppd ca init, or --ca-cert); "
                "give rootCertificate, the root of ocppd's TLS server certificate"
            )
        try:
            return path.read_text()
        except (OSError, UnicodeDecodeError) as error:
            raise UpgradeRefused(f"the root certificate {path} cannot be read: {error}") from None

    async def _run(self, upgrade: Upgrade, subscription: Subscription) -> None:
        try:
            for step in upgrade.steps:
                await self._mark(upgrade, step, RUNNING)
                try:
                    detail = await self._perform(upgrade, step, subscription)
                except StepFailed as failure:
                    await self._mark(upgrade, step, FAILED, str(failure))
                    await self._end(upgrade, FAILED)
                    return
                await self._mark(upgrade, step, DONE, detail)
            await self._end(upgrade, SUCCEEDED)
        except asyncio.CancelledError:
            await self._fail_running(upgrade, "ocppd stopped")
            raise
        except Exception as error:  # a defect of ours: the upgrade ends, the process goes on
            log.exception("%s: security upgrade failed", upgrade.charge_point_id)
            await self._fail_running(upgrade, f"{type(error).__name__}: {error}")
        finally:
            subscription.close()

    async def _fail_running(self, upgrade: Upgrade, why: str) -> None:
        for step in upgrade.steps:
            if step.status == RUNNING:
                step.status, step.at, step.detail = FAILED, self.system.clock(), why
        await self._end(upgrade, FAILED)

    async def _perform(self, upgrade: Upgrade, step: Step, events: Subscription) -> str | None:
        if step.name == INSTALL_ROOT:
            answer = await self._send(
                upgrade,
                s.InstallCertificateRequest(
                    certificate_type=CertificateUse.CENTRAL_SYSTEM_ROOT_CERTIFICATE,
                    certificate=upgrade.root_certificate,
                ),
            )
            _expect(answer.status, {"Accepted"}, "InstallCertificate")
            return "the charger installed the root certificate"
        if step.name == SIGN_CERTIFICATE:
            return await self._sign_certificate(upgrade, events)
        if step.name == CHANGE_PROFILE:
            answer = await self._send(
                upgrade,
                m.ChangeConfigurationRequest(key="SecurityProfile", value=str(upgrade.profile)),
            )
            _expect(answer.status, {"Accepted", "RebootRequired"}, "ChangeConfiguration")
            if answer.status == "RebootRequired":
                return "RebootRequired: the charger applies it when it reboots"
            return "Accepted: the charger reconnects on the new profile"
        return await self._reconnection(upgrade, events)

    async def _send(self, upgrade: Upgrade, request: Any) -> Any:
        try:
            return await self.system.call(
                upgrade.charge_point_id, request, upgrade.timeouts.command
            )
        except Exception as error:
            action = type(request).__name__.removesuffix("Request")
            raise StepFailed(f"{action} not answered: {type(error).__name__}: {error}") from None

    async def _sign_certificate(self, upgrade: Upgrade, events: Subscription) -> str:
        deadline = asyncio.get_running_loop().time() + upgrade.timeouts.certificate
        answer = await self._send(
            upgrade,
            s.ExtendedTriggerMessageRequest(
                requested_message=ExtendedMessageTrigger.SIGN_CHARGE_POINT_CERTIFICATE
            ),
        )
        _expect(answer.status, {"Accepted"}, "ExtendedTriggerMessage")
        requested = await self._wait(
            upgrade,
            events,
            deadline,
            lambda e: e.type == "CertificateRequested",
            "no certificate request (SignCertificate) from the charger",
        )
        if requested.data.get("status") == "rejected":
            raise StepFailed(
                f"its certificate request was rejected: {requested.data.get('reason')}"
            )
        request_id = requested.data.get("requestId")
        step = next(p for p in upgrade.steps if p.name == SIGN_CERTIFICATE)
        await self._mark(
            upgrade,
            step,
            RUNNING,
            f"certificate request {request_id} waits to be signed (automatically, or by an "
            "operator's approval) and sent",
        )
        sent = await self._wait(
            upgrade,
            events,
            deadline,
            lambda e: e.type == "CertificateSent" and e.data.get("requestId") == request_id,
            f"certificate request {request_id} was not signed and answered in time",
        )
        if sent.data.get("status") != "Accepted":
            raise StepFailed(f"the charger answered CertificateSigned {sent.data.get('status')}")
        return (
            f"certificate request {request_id} signed; the charger accepted its certificate "
            f"(serial {sent.data.get('serialNumber')})"
        )

    async def _reconnection(self, upgrade: Upgrade, events: Subscription) -> str:
        deadline = asyncio.get_running_loop().time() + upgrade.timeouts.reconnection

        def raised(event: Event) -> bool:
            return (
                event.type == "SecurityProfileRaised"
                and int(event.data.get("profile", -1)) >= upgrade.profile
            )

        try:
            await self._wait(upgrade, events, deadline, raised, "")
        except StepFailed:
            # The event may have been lost (another node, a relay gap): the stored profile
            # is the truth.
            stored, _, _ = await self._stored(upgrade.charge_point_id)
            if stored < upgrade.profile:
                raise StepFailed(
                    f"no connection on profile {upgrade.profile} within "
                    f"{upgrade.timeouts.reconnection:g} s; its stored profile is still {stored}, "
                    "on which it is admitted (it falls back to it)"
                ) from None
        return f"connected on profile {upgrade.profile}"

    async def _wait(
        self,
        upgrade: Upgrade,
        events: Subscription,
        deadline: float,
        wanted: Callable[[Event], bool],
        missing: str,
    ) -> Event:
        loop = asyncio.get_running_loop()
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise StepFailed(missing)
            try:
                event = await events.next(left)
            except StopAsyncIteration:
                raise StepFailed(
                    f"events lost ({events.ended_because or 'the subscription ended'})"
                ) from None
            if (
                event is not None
                and event.charge_point_id == upgrade.charge_point_id
                and wanted(event)
            ):
                return event

    async def _mark(
        self, upgrade: Upgrade, step: Step, status: str, detail: str | None = None
    ) -> None:
        step.status = status
        step.at = self.system.clock()
        step.detail = detail
        await self._save(upgrade)
        self._publish(upgrade)

    async def _end(self, upgrade: Upgrade, status: str) -> None:
        now = self.system.clock()
        for step in upgrade.steps:
            if step.status == PENDING:
                step.status, step.at = SKIPPED, now
        upgrade.status = status
        upgrade.ended_at = now
        await self._save(upgrade)
        self._publish(upgrade)
        log.info(
            "%s: security upgrade to profile %d %s",
            upgrade.charge_point_id,
            upgrade.profile,
            status,
        )

    async def _save(self, upgrade: Upgrade) -> None:
        """Its row, unless a newer upgrade of the charger replaced it (this one was lost by
        then). A database that fails here does not end the upgrade: the event still goes out,
        and the next change is saved again."""
        t = security_upgrades
        try:
            async with self.system.engine.begin() as db:
                await db.execute(
                    t.update()
                    .where(
                        t.c.charge_point_id == upgrade.charge_point_id,
                        t.c.started_at == upgrade.started_at,
                    )
                    .values(upgrade.row())
                )
        except (sa.exc.SQLAlchemyError, OSError) as error:
            log.warning("%s: security upgrade not saved: %s", upgrade.charge_point_id, error)

    def _publish(self, upgrade: Upgrade) -> None:
        shown = upgrade.shown()
        shown.pop("chargePointId")
        self.system.events.publish(EVENT, upgrade.charge_point_id, self.system.clock(), **shown)


class UnknownChargePoint(LookupError):
    """No charge point of that identity is registered."""


def _expect(status: Any, wanted: set[str], action: str) -> None:
    if str(status) not in wanted:
        raise StepFailed(f"the charger answered {action} {status}")


def check_root(root_pem: str, server_certificate: Path | None) -> None:
    """The root is one PEM certificate and, when ocppd serves TLS, its server certificate
    chains to it (the file's chain holds the root, or a certificate the root issued):
    otherwise the charger would refuse ocppd on the new profile."""
    try:
        root = x509.load_pem_x509_certificate(root_pem.encode())
    except ValueError as error:
        raise UpgradeRefused(f"rootCertificate is not a PEM certificate: {error}") from None
    if server_certificate is None:
        return
    try:
        chain = x509.load_pem_x509_certificates(server_certificate.read_bytes())
    except (OSError, ValueError) as error:
        raise UpgradeRefused(f"the TLS server certificate cannot be read: {error}") from None
    for certificate in chain:
        if certificate == root:
            return
        try:
            certificate.verify_directly_issued_by(root)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return
    raise UpgradeRefused(
        "ocppd's TLS server certificate does not chain to this root certificate: the charger "
        "would refuse ocppd's TLS on the new profile"
    )
