"""The central system: admits charge points, runs a session per connection, stores all.

It knows nothing of WebSockets: the transport asks `admit` before upgrading, then hands each
accepted connection to `open_session` and its frames to the session.
"""

import asyncio
import contextlib
import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from time import perf_counter
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd import __version__
from ocppd.csms import (
    authorization_key,
    certificate_requests,
    charging_profiles,
    composite_checks,
    jobs,
    registration,
    reservations,
    security_events,
    security_profiles,
    security_settings,
    security_upgrade,
    site_controller,
)
from ocppd.csms.authorization_key import NAMING_AUTHORIZATION_KEY
from ocppd.csms.charge_point import ANSWERED_IN_READER, ChargePointHandler, DataTransferHandler
from ocppd.csms.clock import Clock, utc_now
from ocppd.csms.cluster import (
    Cluster,
    ClusterUnavailable,
    Fence,
    Holder,
    NoLeader,
    NotHeld,
    SingleNode,
    StaleFence,
    for_settings,
)
from ocppd.csms.commit_deadline import DatabaseUnavailable
from ocppd.csms.database import create_engine, upgrade
from ocppd.csms.events import EventBus
from ocppd.csms.files import FileStore
from ocppd.csms.ftp_server import FtpServer
from ocppd.csms.group_commit import GroupCommit
from ocppd.csms.housekeeping import Claim, repeat
from ocppd.csms.id_tags import Authorizations
from ocppd.csms.installed_certificates import InstalledCertificates
from ocppd.csms.local_list_limits import LocalListLimits
from ocppd.csms.message_log import MessageLog
from ocppd.csms.metrics import Metrics
from ocppd.csms.readiness import Readiness
from ocppd.csms.security_events import SecurityEvents
from ocppd.csms.settings import CertificateName, Settings, node_default_name, node_name
from ocppd.csms.site_controller import SiteController
from ocppd.csms.stored_text import NUL
from ocppd.csms.system_services import Check, Recorder
from ocppd.csms.transactions import Transactions
from ocppd.protocol.actions import Registry, Role
from ocppd.protocol.enums import RegistrationStatus
from ocppd.protocol.fields import Payload
from ocppd.protocol.leniency import Leniency
from ocppd.rpc.connection import Options
from ocppd.rpc.log_budget import offences
from ocppd.rpc.session import Send, Session, SessionClosed
from ocppd.transport.server import Close, Refusal
from ocppd.transport.tls import ClientCertificate, TlsFacts

log = logging.getLogger("ocppd.csms")

MAX_IDENTITY_LENGTH = 255
ENDED_WAIT = 5.0
"""Seconds `disconnect_here` waits for a closed connection's last message to be handled."""


@dataclass(slots=True)
class Connection:
    identity: str
    session: Session
    handler: ChargePointHandler
    close: Close
    connected_at: datetime
    leniency: Leniency = field(default_factory=Leniency)
    ended: "asyncio.Future[None] | None" = None
    """Set once the connection's handling is over (`closed`), for whoever waits for it."""

    async def receive(self, data: str) -> None:
        await self.session.receive(data)


class NotConnected(NotHeld):
    """No charge point with that identity is connected (to any node of the cluster)."""


class CentralSystem:
    def __init__(
        self, settings: Settings, clock: Clock = utc_now, engine: AsyncEngine | None = None
    ) -> None:
        self.settings = settings
        self.clock = clock
        timeout = settings.database_timeout
        if engine is None:
            engine = create_engine(settings.database_url(), timeout=timeout)
        self.engine = engine
        self.metrics = Metrics(node_name(settings))
        self.writer = GroupCommit(self.engine, timeout=timeout, metrics=self.metrics)
        self.readiness = Readiness(self.engine)
        self.admissions = registration.Admissions(settings)
        self.authorizations = Authorizations()
        self.transactions = Transactions(settings)
        # Every charger may send the security extension's notifications and SignCertificate;
        # what may be sent to one is decided per charger (its security_extension) in `call`.
        self.registry = Registry(settings.extensions | {"security"})
        self.data_transfer: dict[str, DataTransferHandler] = {}
        self.connections: dict[str, Connection] = {}
        self.message_log = MessageLog(
            self.writer, clock, settings.message_log_budget, connected=self.connections
        )
        self.events = EventBus()
        self.security_events = SecurityEvents(self)
        """Security events the central system records itself (`observed`)."""
        self.checks: dict[str, list[Check]] = {}
        self.recorders: dict[str, list[Recorder]] = {}
        self.charging_profiles = charging_profiles.ChargingProfiles(self)
        self.composite_checks = composite_checks.CompositeChecks(self, self.charging_profiles)
        self.local_list_limits = LocalListLimits(self)
        self.installed_certificates = InstalledCertificates(self)
        self.certificate_requests = certificate_requests.CertificateRequests(self)
        self.checks.setdefault("ReserveNow", []).append(reservations.check_storable)
        self.security_gate = security_settings.SecurityGate(self)
        self.security_upgrades = security_upgrade.SecurityUpgrades(self)
        self.sites = SiteController(self)
        self.ftp = FtpServer(self) if settings.ftp_port is not None else None
        """Chargers' files over FTP (`--ftp-port`), started with the system."""
        self.cluster: Cluster = for_settings(settings, __version__, clock, self.metrics)
        """The other nodes (csms/cluster), or this one alone (`SingleNode`)."""
        self.site_leadership = self.cluster.leadership(
            site_controller.LEASE, self.sites.start, self.sites.stop
        )
        """The sites are driven by one node of a cluster: this one while it leads."""
        self._background: list[asyncio.Task[None]] = []
        self._calls_in_flight = 0
        self._no_calls = asyncio.Event()
        self._no_calls.set()
        self._stopping = False

    async def start(self) -> None:
        await upgrade(self.engine)
        self.writer.start()
        try:
            await self.cluster.start(self)
        except BaseException:
            await self.writer.stop()
            await self.engine.dispose()
            raise
        self.metrics.start()
        if self.ftp is not None:
            await self.ftp.start()
        retention = timedelta(days=self.settings.message_retention_days)
        pruning = self.message_log.keep_pruning(retention, self._once("message-log-pruning"))
        self._background.append(asyncio.create_task(pruning))
        self._background.append(asyncio.create_task(self._keep_deleting_old_files()))
        self._background.append(asyncio.create_task(self._keep_pruning_security_events()))
        self._background.append(asyncio.create_task(self._keep_sweeping()))
        await self.site_leadership.start()

    def _once(self, work: str) -> Claim:
        """The claim of a period's housekeeping: one node of a cluster runs it."""
        return functools.partial(self.cluster.once, work)

    async def delete_old_files(self) -> int:
        """Diagnostics files older than their retention, deleted; how many."""
        retention = timedelta(days=self.settings.diagnostics_retention_days)
        store = FileStore(self.settings.data_dir)
        return await jobs.delete_old_files(self.engine, store, self.clock(), retention)

    async def _keep_deleting_old_files(self) -> None:
        await repeat(
            "deleting old diagnostics files",
            self.delete_old_files,
            "diagnostics: %d files past their retention deleted",
            claim=self._once("diagnostics-retention"),
        )

    async def prune_security_events(self) -> int:
        """Security events older than their retention, and certificate requests rejected
        before it without a certificate, deleted; how many."""
        retention = timedelta(days=self.settings.security_event_retention_days)
        events = await security_events.prune(self, retention)
        return events + await certificate_requests.prune_rejected(self, retention)

    async def _keep_pruning_security_events(self) -> None:
        await repeat(
            "pruning old security events",
            self.prune_security_events,
            "security events and rejected certificate requests: %d past their retention deleted",
            claim=self._once("security-event-retention"),
        )

    async def hand_over(self) -> None:
        """Stop driving the sites (another node of a cluster takes over at once)."""
        await self.site_leadership.stop()

    async def _keep_sweeping(self) -> None:
        await repeat(
            "sweeping what nodes that are gone left in Redis",
            self.cluster.sweep,
            "cluster: %d entries of nodes that are gone deleted",
            claim=self._once("cluster-sweep"),
        )

    async def stop(self) -> None:
        """Close every connection (1001, going away), leave the cluster, then flush what is
        queued."""
        await self.hand_over()
        await self.security_upgrades.stop()
        if self.ftp is not None:
            await self.ftp.stop()
        await asyncio.gather(
            *(
                c.close(1001, "central system shutting down")
                for c in list(self.connections.values())
            ),
            return_exceptions=True,
        )
        for task in self._background:  # housekeeping, which may use Redis: before leaving
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.certificate_requests.stop()
        await self.cluster.stop()
        await self.writer.stop()
        await self.metrics.stop()
        await self.engine.dispose()
        self.events.close()

    # Admission, before the WebSocket upgrade

    async def admit(
        self, identity: str, password: str | None, tls: TlsFacts | None = None
    ) -> registration.ChargePointRecord | Refusal:
        if not identity:
            return Refusal(404, "no charge point identity in the path")
        if len(identity) > MAX_IDENTITY_LENGTH:
            return Refusal(404, f"identity longer than {MAX_IDENTITY_LENGTH} characters")
        if "/" in identity:
            # Percent-encoded in the OCPP URL; no API path could name it (`%2F` is decoded
            # before routing), so it is refused rather than registered unreachable.
            return Refusal(404, "an identity containing '/' is not accepted")
        if NUL in identity:
            # Percent-encoded as %00. PostgreSQL would store it as another identity (U+FFFD for
            # the NUL, `stored_text`), so it is refused on every database.
            return Refusal(404, "an identity containing NUL is not accepted")
        record: registration.ChargePointRecord | None
        try:
            record = await self.writer.merge(self.admissions, identity)
        except DatabaseUnavailable:
            # The charger tries again later, as after any failed connection attempt.
            return Refusal(503, "the database is unavailable")
        if record is None:
            return Refusal(404, f"unknown charge point {identity!r}")
        verdict = security_profiles.judge(record, password, tls, self.settings)
        if verdict.refusal is None and tls is not None and tls.client_certificate is not None:
            try:
                verdict = await self._owned(record, tls.client_certificate, verdict)
            except DatabaseUnavailable:
                return Refusal(503, "the database is unavailable")
        if verdict.refusal is not None:
            if verdict.event_type is not None:
                await self._security_refusal(identity, verdict.event_type, verdict.refusal)
            return verdict.refusal
        if verdict.profile > record.security_profile:
            try:
                await self._raise_profile(record, verdict.profile)
            except DatabaseUnavailable:
                return Refusal(503, "the database is unavailable")
        if tls is not None:
            record.client_certificate = tls.client_certificate
        return record

    async def _owned(
        self,
        record: registration.ChargePointRecord,
        certificate: ClientCertificate,
        verdict: security_profiles.Verdict,
    ) -> security_profiles.Verdict:
        """With `--client-certificate-cn serial-number` a CN names a serial number, which any
        charger may claim in its BootNotification: a certificate ocppd issued is then
        accepted only from the charger that asked for it (by CN alone it is, by identity)."""
        if self.settings.client_certificate_cn is not CertificateName.SERIAL_NUMBER:
            return verdict
        owner = await self.certificate_requests.issued_to(certificate.serial_number)
        if owner is None or owner == record.id:
            return verdict
        refusal = Refusal(403, f"client certificate issued to {owner!r}, not {record.id!r}")
        return security_profiles.Verdict(3, refusal, security_profiles.INVALID_CERTIFICATE)

    async def _security_refusal(self, identity: str, event_type: str, refusal: Refusal) -> None:
        """A connection refused for its security profile or certificate: a security event
        of the central system's (stored, published), within the charger's log budget (a few a
        minute: refused connections cost an attacker nothing, rows cost the database; the
        ones held back are counted in the next log line)."""
        if not offences.log(
            log,
            logging.WARNING,
            f"security:{identity}",
            "%s: security event %s: %s",
            identity,
            event_type,
            refusal.reason,
        ):
            return
        try:
            await self.security_events.observed(identity, event_type, refusal.reason)
        except DatabaseUnavailable:
            log.warning(
                "%s: security event %s not stored: database unavailable", identity, event_type
            )

    async def _raise_profile(self, record: registration.ChargePointRecord, profile: int) -> None:
        """The charger connected on a higher profile than stored: stored (never lowered
        here), and published."""
        previous = record.security_profile
        await self.writer.commit(
            [], functools.partial(registration.raise_profile, record.id, profile)
        )
        record.security_profile = profile
        log.info("%s: security profile raised from %d to %d", record.id, previous, profile)
        self.events.publish(
            "SecurityProfileRaised", record.id, self.clock(), previous=previous, profile=profile
        )

    # Connections

    async def open_session(
        self, record: registration.ChargePointRecord, send: Send, close: Close
    ) -> Connection:
        """The session for a newly accepted connection; an older one of the same identity is
        closed (its close cannot tear down the new one: see `closed`)."""
        previous = self.connections.get(record.id)
        handler = ChargePointHandler(self, record)
        leniency = Leniency(record.leniency_rules)
        session = Session(
            Role.CENTRAL_SYSTEM,
            send,
            handlers=handler.handlers(),
            registry=self.registry,
            options=Options(leniency=leniency),
            response_timeout=self.settings.response_timeout,
            name=record.id,
            # Bound: the recorder's `__call__` is called for half the instructions it is.
            observer=self.metrics.meter(self.message_log.observer(record.id).__call__),
            answered_in_reader=ANSWERED_IN_READER,
        )
        connection = Connection(record.id, session, handler, close, self.clock(), leniency)
        self.connections[record.id] = connection
        self.metrics.connection_opened(len(self.connections))
        self._publish_connected(record, connection.connected_at)
        if previous is not None:
            log.info("%s: a new connection replaces the old one", record.id)
            await previous.session.close()
            await previous.close(1000, "replaced by a new connection")
        # Returns once another node's older connection is closed: nothing it still does
        # lands after what this one does (no Redis on one node).
        await self.cluster.claim(record.id, connection.connected_at)
        return connection

    def _publish_connected(self, record: registration.ChargePointRecord, at: datetime) -> None:
        """`Connected`, with the client certificate of a profile-3 connection (then
        forgotten: the record lives as long as the connection)."""
        certificate, record.client_certificate = record.client_certificate, None
        if certificate is None:
            self.events.publish("Connected", record.id, at)
            return
        shown = {
            "serialNumber": certificate.serial_number,
            "subject": certificate.subject,
            "notAfter": certificate.not_after.isoformat().replace("+00:00", "Z"),
            "sha256": certificate.sha256,
        }
        self.events.publish("Connected", record.id, at, clientCertificate=shown)

    async def open(
        self, admitted: registration.ChargePointRecord, send: Send, close: Close
    ) -> Connection:
        return await self.open_session(admitted, send, close)

    async def closed(self, connection: Connection, code: int) -> None:
        """The socket is gone. Only the current connection of an identity is forgotten, so a
        replaced connection closing late cannot tear down its successor."""
        log.info("%s: disconnected (%d)", connection.identity, code)
        if self.connections.get(connection.identity) is connection:
            await self._forget(connection, code)
        self.metrics.connection_closed(code, len(self.connections))
        await connection.session.close()
        if connection.ended is not None and not connection.ended.done():
            connection.ended.set_result(None)

    async def _forget(self, connection: Connection, code: int) -> None:
        """`connection` is no longer the charge point's: calls go elsewhere, or nowhere."""
        del self.connections[connection.identity]
        self.events.publish("Disconnected", connection.identity, self.clock(), code=code)
        await self.cluster.release(connection.identity)

    async def call(
        self,
        identity: str,
        request: Payload,
        timeout: float | None = None,
        force: bool = False,
        fence: Fence | None = None,
    ) -> Any:
        """Send a request to a charge point connected to any node and return its response
        (`call_here`, on the node that holds it). Raises NotConnected when no node does,
        ClusterUnavailable when the node that does cannot be reached."""
        if identity in self.connections:
            return await self.call_here(identity, request, timeout, force, fence)
        asked = perf_counter()
        try:
            response = await self.cluster.call(identity, request, timeout, force, fence)
        except NotHeld as error:
            raise NotConnected(str(error)) from None
        except ClusterUnavailable:
            raise  # the holder was not reached: no hop to count
        except Exception:
            self.metrics.cross_node_call(perf_counter() - asked)
            raise
        self.metrics.cross_node_call(perf_counter() - asked)
        return response

    async def call_here(
        self,
        identity: str,
        request: Payload,
        timeout: float | None,
        force: bool = False,
        fence: Fence | None = None,
    ) -> Any:
        """Send a request to a charge point connected here and return its response, once its
        boot status allows it (`registration.refusal`: raises CommandRefused; `force` sends
        to a Rejected one), the action's checks passed, the `fence` (a leader's) still holds
        (else StaleFence), and its recorders stored the answer."""
        connection = self.connections.get(identity)
        if connection is None:
            raise NotConnected(f"charge point {identity!r} is not connected")
        if self._stopping:
            raise SessionClosed(f"Session {identity} closed: the central system is stopping")
        action = type(request).__name__.removesuffix("Request")
        refused = registration.refusal(identity, connection.handler.registration, action, force)
        if refused is not None:
            raise refused
        for check in self.checks.get(action, ()):
            await check(identity, request)
        if fence is not None and not await self.cluster.fence_holds(fence):
            raise StaleFence(f"{action} not sent: lease {fence.lease!r} has a newer leader")
        sent_at = self.clock()
        self._calls_in_flight += 1
        self._no_calls.clear()
        try:
            response = await connection.session.call(request, timeout)
        except Exception as error:
            self.events.publish(
                "CommandFailed", identity, self.clock(), action=action, error=str(error)
            )
            raise
        finally:
            self._calls_in_flight -= 1
            if not self._calls_in_flight:
                self._no_calls.set()
        if self.events.active:
            shown = msgspec.to_builtins(response)
            if action in NAMING_AUTHORIZATION_KEY:
                authorization_key.hide(shown)
            self.events.publish(
                "CommandResult", identity, self.clock(), action=action, response=shown
            )
        for record in self.recorders.get(action, ()):
            await record(identity, request, response, sent_at)
        return response

    async def finish_calls(self) -> None:
        """Before the charge points are closed (SIGTERM): the calls sent to them are answered
        (or time out); no new one is sent."""
        self._stopping = True
        if self._calls_in_flight:
            log.info("stopping: waiting for %d calls in flight", self._calls_in_flight)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._no_calls.wait(), self.settings.response_timeout)

    # What the cluster asks of this node (`cluster.LocalNode`), and asks the cluster

    def held(self) -> Iterable[str]:
        return self.connections.keys()

    async def disconnect_here(self, identity: str, code: int, reason: str) -> bool:
        connection = self.connections.get(identity)
        if connection is None:
            return False
        if connection.ended is None:
            connection.ended = asyncio.get_running_loop().create_future()
        ended = connection.ended
        # Forgotten at once: a peer that takes long to go must not receive the calls meant
        # for a newer connection elsewhere.
        await self._forget(connection, code)
        await connection.session.close()
        # Bounded: a half-dead peer may never take the close frame, nor end the connection.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ENDED_WAIT):
                await connection.close(code, reason)
                await asyncio.shield(ended)
        return True

    async def disconnect(self, identity: str, code: int, reason: str) -> bool:
        """Close a charge point's connection on whichever node holds it; False if none."""
        if await self.disconnect_here(identity, code, reason):
            return True
        return await self.cluster.disconnect(identity, code, reason)

    def registration_changed_here(self, identity: str, status: RegistrationStatus) -> bool:
        connection = self.connections.get(identity)
        if connection is None:
            return False
        connection.handler.record.registration_status = status
        return True

    async def lead_here(self, lease: str, what: str, argument: str) -> bytes:
        if lease == site_controller.LEASE:
            return await self.sites.lead_here(what, argument)
        raise NoLeader(f"{lease}: no such singleton")

    async def registration_changed(self, identity: str, status: RegistrationStatus) -> None:
        """A connected charge point's next BootNotification is answered with `status`,
        whichever node holds it."""
        if not self.registration_changed_here(identity, status):
            await self.cluster.registration_changed(identity, status)

    async def holders(self, identities: Iterable[str]) -> dict[str, Holder]:
        """The node holding each of `identities` that is connected anywhere, and since when."""
        found: dict[str, Holder] = {}
        elsewhere = []
        for identity in identities:
            connection = self.connections.get(identity)
            if connection is None:
                elsewhere.append(identity)
            else:
                found[identity] = Holder(self.cluster.node_name, connection.connected_at)
        if elsewhere:
            found.update(await self.cluster.holders(elsewhere))
        return found

    async def connected(self) -> list[str]:
        """Every charge point connected to any node, sorted."""
        return sorted(set(self.connections).union(await self.cluster.connected()))

    def listening(self, port: int) -> None:
        """The port is bound (the system chose it when asked for port 0)."""
        self.cluster.address = f"{self.settings.host}:{port}"
        if isinstance(self.cluster, SingleNode) and not self.settings.node_name:
            # Alone, the name can follow the port chosen; a cluster's node took its name when
            # it joined, before listening (`HOST:0` with --port 0: give --node-name).
            self.cluster.node_name = node_default_name(port)
            self.metrics.rename(self.cluster.node_name)
