"""A simulated charge point: one station, its connectors, and its life with a central system.

A `Station` connects (and reconnects, with backoff), boots as section 3 says (Accepted,
Pending, Rejected and the interval), sends heartbeats, reports every connector transition,
delivers transaction messages in order, and answers the central system's commands (see
`commands.py`). A Python test or a scenario drives it step by step:

    async with Station(url, "CP1", clock=Clock(speed=100)) as station:
        await station.boot()
        await station.plug_in(1)
        transaction = await station.start_transaction(1, "TAG1")
        ...
        await station.stop_transaction(1)
        await station.unplug(1)

State changes are synchronous (the facts of a connector, the queue of messages); sending
is asynchronous. So a command handler changes the state, answers, and lets the station
report the consequences after the answer, in the order a charger would.
"""

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from msgspec import UNSET

from ocppd import __version__
from ocppd.chargepoint.authorization import Authorizations
from ocppd.chargepoint.clock import Clock
from ocppd.chargepoint.configuration import Configuration
from ocppd.chargepoint.connectors import Connector, Reservation, StationConnector
from ocppd.chargepoint.meter import Meter
from ocppd.chargepoint.smart_charging import ChargingProfiles
from ocppd.chargepoint.stats import Stats
from ocppd.chargepoint.transactions import Transaction, TransactionMessages
from ocppd.protocol import messages as m
from ocppd.protocol.actions import spec_for_request
from ocppd.protocol.datatypes import ChargingProfile, IdTagInfo
from ocppd.protocol.enums import (
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    DiagnosticsStatus,
    FirmwareStatus,
    ReadingContext,
    Reason,
    RegistrationStatus,
    ResetType,
)
from ocppd.protocol.errors import CallErrorReceived, OCPPError, PayloadError
from ocppd.protocol.fields import Payload
from ocppd.rpc.connection import UniqueIds
from ocppd.rpc.session import CallTimeout, SessionClosed
from ocppd.transport.client import CONNECT_ERRORS, ChargePointClient, ClientOptions, connect

log = logging.getLogger("ocppd.chargepoint")

DEFAULT_RETRY_SECONDS = 60
"""The wait before the next BootNotification when the CS answers interval 0."""
REBOOT_SECONDS = 5
MAX_BACKOFF_SECONDS = 60


@dataclass(frozen=True)
class ChargerModel:
    """What the station says of itself in BootNotification, and its hardware."""

    vendor: str = "ocppd"
    model: str = "Simulator"
    serial_number: str | None = None
    firmware_version: str = f"ocppd-{__version__}"
    connectors: int = 2
    max_power_w: float = 22_080.0


class Station:
    def __init__(
        self,
        url: str,
        identity: str,
        *,
        model: ChargerModel | None = None,
        clock: Clock | None = None,
        client_options: ClientOptions | None = None,
        configuration: dict[str, str] | None = None,
    ) -> None:
        self.url = url
        self.identity = identity
        self.model = model if model is not None else ChargerModel()
        self.clock = clock if clock is not None else Clock()
        self.client_options = client_options if client_options is not None else ClientOptions()
        self.configuration = Configuration(self.model.connectors, configuration)
        self.configuration.listeners.append(self._configuration_changed)
        self.station = StationConnector()
        self.connectors = {
            n: Connector(n, Meter(max_power_w=self.model.max_power_w))
            for n in range(1, self.model.connectors + 1)
        }
        self.authorizations = Authorizations()
        self.profiles = ChargingProfiles(self.configuration)
        self.reservations: dict[int, Reservation] = {}
        self.transaction_messages = TransactionMessages(self.clock, self.configuration)
        self.stats = Stats()
        self.ids = UniqueIds()  # the station's own: ids stay unique across its connections
        self.registration: RegistrationStatus | None = None
        self.last_boot: m.BootNotificationResponse | None = None
        self.diagnostics_status = DiagnosticsStatus.IDLE
        self.firmware_status = FirmwareStatus.IDLE
        self.client: ChargePointClient | None = None
        self._pending_profiles: dict[int, ChargingProfile] = {}
        self._outbox: list[m.StatusNotificationRequest] = []
        self._report_lock = asyncio.Lock()
        self._boot_answered = asyncio.Event()
        self._accepted = asyncio.Event()
        self._may_connect = asyncio.Event()
        self._may_connect.set()
        self._hang_up = asyncio.Event()
        self._reboot_pending = False
        self._after_boot: list[Payload] = []
        self._life: asyncio.Task[None] | None = None
        self._connection_tasks: dict[str, asyncio.Task[None]] = {}
        self._samplers: dict[int, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        from ocppd.chargepoint.commands import Commands  # the commands use the station

        self.handlers = Commands(self).handlers()

    # Lifetime

    def start(self) -> None:
        """Connect and keep connected, in the background, until `stop`."""
        if self._life is None:
            self._life = asyncio.create_task(self._live(), name=f"station {self.identity}")
            self.spawn(self._clock_aligned(), name=f"aligned {self.identity}")

    async def stop(self) -> None:
        """Stop at once, as a power cut would: nothing more is sent."""
        tasks = [self._life, *self._samplers.values(), *self._background]
        for task in tasks:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in tasks if t is not None), return_exceptions=True)
        self._life = None
        if self.client is not None:
            await self.client.close()

    async def __aenter__(self) -> "Station":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def boot(self, timeout: float | None = 10) -> m.BootNotificationResponse:
        """Start, and return the central system's first answer to BootNotification."""
        self.start()
        await asyncio.wait_for(self._boot_answered.wait(), timeout)
        assert self.last_boot is not None
        return self.last_boot

    async def wait_accepted(self, timeout: float | None = 10) -> None:
        self.start()
        await asyncio.wait_for(self._accepted.wait(), timeout)

    @property
    def online(self) -> bool:
        """Connected and accepted: the station may send what it wants."""
        return self.client is not None and self.registration == RegistrationStatus.ACCEPTED

    def go_offline(self) -> None:
        """Lose the connection and stay away until `go_online` (an offline period)."""
        self._may_connect.clear()
        self._hang_up.set()

    def go_online(self) -> None:
        self._may_connect.set()

    def spawn(self, coroutine: Coroutine[Any, Any, Any], name: str = "") -> None:
        """Run a follow-up of a command after its answer (a report, a triggered message)."""
        task = asyncio.create_task(coroutine, name=name or None)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _live(self) -> None:
        failures = 0
        while True:
            await self._may_connect.wait()
            try:
                client = await connect(
                    self.url,
                    self.identity,
                    options=self._connect_options(),
                    handlers=self.handlers,
                    ids=self.ids,
                )
            except CONNECT_ERRORS as exc:
                failures += 1
                self.stats.errors[f"connect {_describe(exc)}"] += 1
                await self.clock.sleep(_backoff(failures))
                continue
            self.stats.connections += 1
            await self._connected(client)
            if self._reboot_pending:
                await self._reboot()
                failures = 0
            elif self._may_connect.is_set():
                # Closed by the CS or the network: back off too, more so if it never
                # accepted us, so that a refusing CS is not hammered.
                failures = 0 if self.registration == RegistrationStatus.ACCEPTED else failures + 1
                await self.clock.sleep(_backoff(max(failures, 1)))

    def _connect_options(self) -> ClientOptions:
        ping = self.configuration.get_int("WebSocketPingInterval")
        options = self.client_options
        return ClientOptions(
            password=options.password,
            ssl=options.ssl,
            max_message_size=options.max_message_size,
            ping_interval=self.clock.real_seconds(ping) if ping > 0 else None,
            open_timeout=options.open_timeout,
            response_timeout=options.response_timeout,
        )

    async def _connected(self, client: ChargePointClient) -> None:
        """Live on one connection until it closes or the station hangs up."""
        self.client = client
        self._hang_up.clear()
        work = asyncio.create_task(self._work(client))
        watch = {
            work,
            asyncio.create_task(self._hang_up.wait()),
            asyncio.create_task(client.wait_closed()),
        }
        try:
            await asyncio.wait(watch, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.client = None
            if work.done() and not work.cancelled() and work.exception() is not None:
                log.error("%s: connection work failed", self.identity, exc_info=work.exception())
            # Close first: whatever waits on the connection then ends by itself, even
            # where Python 3.11's wait_for loses a cancellation that races an answer.
            await client.close()
            tasks = [*watch, *self._connection_tasks.values()]
            self._connection_tasks.clear()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _work(self, client: ChargePointClient) -> None:
        try:
            if self.registration != RegistrationStatus.ACCEPTED:
                await self._boot_until_accepted(client)
            else:
                self._collapse_outbox()  # back from offline: only the current states
            self._run_connection_task("heartbeat", self._heartbeats())
            self._run_connection_task("delivery", self.transaction_messages.deliver(self.call))
            await self.report()
            for request in self._after_boot:
                await self.try_call(request)
            self._after_boot.clear()
            await client.wait_closed()
        except SessionClosed:
            pass

    def _run_connection_task(self, name: str, coroutine: Coroutine[Any, Any, None]) -> None:
        old = self._connection_tasks.pop(name, None)
        if old is not None:
            old.cancel()
        self._connection_tasks[name] = asyncio.create_task(coroutine, name=name)

    # Boot and heartbeat

    def boot_request(self) -> m.BootNotificationRequest:
        model = self.model
        return m.BootNotificationRequest(
            charge_point_vendor=model.vendor,
            charge_point_model=model.model,
            charge_point_serial_number=model.serial_number or UNSET,
            firmware_version=model.firmware_version,
        )

    async def _boot_until_accepted(self, client: ChargePointClient) -> None:
        while True:
            try:
                answer = await self.send_boot()
            except (CallTimeout, OCPPError):
                await self.clock.sleep(DEFAULT_RETRY_SECONDS)
                continue
            if answer.status == RegistrationStatus.ACCEPTED:
                return
            wait = answer.interval if answer.interval > 0 else DEFAULT_RETRY_SECONDS
            # Rejected: silent until the interval expires. Pending: the CS may provision
            # the station meanwhile, and a triggered boot may be Accepted before then.
            client.muted = answer.status == RegistrationStatus.REJECTED
            try:
                await asyncio.wait_for(self._accepted.wait(), self.clock.real_seconds(wait))
                return
            except TimeoutError:
                pass
            finally:
                client.muted = False

    async def send_boot(self) -> m.BootNotificationResponse:
        answer: m.BootNotificationResponse = await self.call(self.boot_request())
        self.registration = answer.status
        self.last_boot = answer
        self._boot_answered.set()
        if answer.status == RegistrationStatus.ACCEPTED:
            if self.clock.speed == 1:
                # A real charger takes the CS's time. A faster clock keeps its own, or a
                # reboot would send it back in time.
                self.clock.set(answer.current_time)
            if answer.interval > 0:
                self.configuration.set("HeartbeatInterval", str(answer.interval))
            # After a boot every connector is reported, changed or not (errata).
            for connector in self._all_connectors():
                connector.update()
            self._outbox = [self._status_request(c) for c in self._all_connectors()]
            self._accepted.set()
        return answer

    async def _heartbeats(self) -> None:
        while True:
            interval = self.configuration.get_int("HeartbeatInterval")
            await self.clock.sleep(interval if interval > 0 else DEFAULT_RETRY_SECONDS)
            if interval > 0:
                # The answer carries the CS's time; a clock running faster than real
                # time is not dragged back to it (only the boot sets the clock).
                await self.try_call(m.HeartbeatRequest())

    def _configuration_changed(self, key: str) -> None:
        if key == "HeartbeatInterval" and "heartbeat" in self._connection_tasks:
            self._run_connection_task("heartbeat", self._heartbeats())

    # Sending

    async def call(self, request: Payload) -> Any:
        """Send a call to the central system; counted, timed, errors counted and raised."""
        client = self.client
        action = spec_for_request(request).name
        if client is None:
            raise SessionClosed(f"{self.identity} is not connected")
        self.stats.sent[action] += 1
        started = time.monotonic()
        try:
            answer = await client.session.call(request)
        except CallTimeout:
            self.stats.errors[f"Timeout {action}"] += 1
            raise
        except CallErrorReceived as exc:
            self.stats.errors[f"CallError {action} {exc.wire_code}"] += 1
            raise
        except PayloadError as exc:
            self.stats.errors[f"Invalid {action} {exc.code.value}"] += 1
            raise
        self.stats.answered(action, time.monotonic() - started)
        return answer

    async def try_call(self, request: Payload) -> Any:
        """A call whose failure changes nothing (already counted): None then."""
        try:
            return await self.call(request)
        except (CallTimeout, OCPPError, SessionClosed):
            return None

    # Connector status

    def _all_connectors(self) -> list[Connector | StationConnector]:
        return [self.station, *self.connectors.values()]

    def connector(self, connector_id: int) -> Connector:
        try:
            return self.connectors[connector_id]
        except KeyError:
            raise ValueError(f"{self.identity} has no connector {connector_id}") from None

    def _status_request(
        self, connector: Connector | StationConnector
    ) -> m.StatusNotificationRequest:
        return m.StatusNotificationRequest(
            connector_id=connector.connector_id,
            error_code=connector.fault or ChargePointErrorCode.NO_ERROR,
            status=connector.status,
            info=connector.info or UNSET,
            timestamp=self.clock.now(),
        )

    def changed(self, connector: Connector | StationConnector) -> None:
        """A fact of `connector` changed: queue a StatusNotification if its status did."""
        if connector.update() is not None:
            self._outbox.append(self._status_request(connector))

    def _collapse_outbox(self) -> None:
        latest = {request.connector_id: request for request in self._outbox}
        self._outbox = sorted(latest.values(), key=lambda r: r.connector_id)

    async def report(self) -> None:
        """Send the queued StatusNotifications, in order, while online."""
        async with self._report_lock:
            while self._outbox and self.online:
                try:
                    await self.call(self._outbox[0])
                except (CallTimeout, OCPPError):
                    pass  # a charger does not resend a refused status
                except SessionClosed:
                    return
                self._outbox.pop(0)

    async def send_status(self, connector_id: int | None) -> None:
        """StatusNotification of the current state (a trigger): one connector, or all."""
        connectors = (
            self._all_connectors()
            if connector_id is None
            else ([self.station] if connector_id == 0 else [self.connector(connector_id)])
        )
        for connector in connectors:
            await self.try_call(self._status_request(connector))

    # The driver's steps

    async def plug_in(self, connector_id: int) -> Transaction | None:
        """The EV is plugged in; a transaction starts if a tag was presented before."""
        connector = self.connector(connector_id)
        connector.plugged = True
        connector.finishing = False
        connector.ev_suspended = False
        connector.info = None
        if connector.transaction is not None:
            self.apply_power(connector)  # back after an EV-side disconnect
        elif connector.waiting_tag is not None and connector.available_for:
            return await self._start_now(connector, connector.waiting_tag)
        self.changed(connector)
        await self.report()
        return None

    async def unplug(self, connector_id: int) -> None:
        connector = self.connector(connector_id)
        connector.plugged = False
        connector.finishing = False
        if connector.transaction is not None:
            if self.configuration.get_bool("StopTransactionOnEVSideDisconnect"):
                self.end_transaction(connector, Reason.EV_DISCONNECTED)
            else:
                # The transaction goes on, the cable stays locked: SuspendedEV.
                connector.ev_suspended = True
                connector.info = "EV side disconnected"
                self.apply_power(connector)
        self.changed(connector)
        await self.report()

    async def authorize(self, id_tag: str) -> IdTagInfo:
        """What the station decides for a presented tag: from the local list or cache
        (LocalPreAuthorize, or offline), else by asking the central system."""
        now = self.clock.now()
        known = self.authorizations.known(id_tag, now, self.configuration)
        accepted = known is not None and known.status == AuthorizationStatus.ACCEPTED
        if accepted and self.configuration.get_bool("LocalPreAuthorize"):
            assert known is not None
            return known
        if self.online:
            try:
                answer: m.AuthorizeResponse = await self.call(m.AuthorizeRequest(id_tag=id_tag))
            except (CallTimeout, OCPPError, SessionClosed):
                pass  # unanswered: decide as when offline
            else:
                self.authorizations.remember(id_tag, answer.id_tag_info, self.configuration)
                return answer.id_tag_info
        return self._offline_decision(known)

    def _offline_decision(self, known: IdTagInfo | None) -> IdTagInfo:
        if known is not None and self.configuration.get_bool("LocalAuthorizeOffline"):
            return known
        if known is None and self.configuration.get_bool("AllowOfflineTxForUnknownId"):
            return IdTagInfo(status=AuthorizationStatus.ACCEPTED)
        return IdTagInfo(status=AuthorizationStatus.INVALID)

    async def start_transaction(self, connector_id: int, id_tag: str) -> Transaction | None:
        """The driver presents `id_tag` at the connector. If it is accepted and the EV is
        plugged in, the transaction starts (returned once the CS has answered, when online);
        if not plugged in yet, it starts on plug-in. None when it does not start now."""
        connector = self.connector(connector_id)
        if not connector.available_for or not self._may_use(connector, id_tag):
            return None
        info = await self.authorize(id_tag)
        if info.status != AuthorizationStatus.ACCEPTED:
            return None
        return await self.present(connector, id_tag)

    async def present(self, connector: Connector, id_tag: str) -> Transaction | None:
        """An authorized tag at `connector`: start now, or once the EV is plugged in."""
        if not connector.plugged:
            connector.waiting_tag = id_tag
            connector.finishing = False
            self.changed(connector)
            self.spawn(self._connection_timeout(connector, id_tag))
            await self.report()
            return None
        return await self._start_now(connector, id_tag)

    async def _start_now(self, connector: Connector, id_tag: str) -> Transaction:
        if connector.finishing:
            # A new transaction after Finishing passes through Preparing (section 7).
            connector.finishing = False
            self.changed(connector)
        transaction, started = self._begin(connector, id_tag)
        self.changed(connector)
        await self.report()
        if self.online:
            # The caller gets the transaction with its id, once the CS has answered.
            await asyncio.wait({started})
        return transaction

    def _may_use(self, connector: Connector, id_tag: str) -> bool:
        """A reserved connector serves only its tag; a reservation on connector 0 keeps
        one connector free for its tag."""
        if connector.reservation is not None:
            return connector.reservation.admits(id_tag)
        free = [c for c in self.connectors.values() if c.available_for and c.reservation is None]
        for reservation in self.reservations.values():
            if reservation.connector_id == 0 and not reservation.admits(id_tag) and len(free) <= 1:
                return False
        return True

    async def _connection_timeout(self, connector: Connector, id_tag: str) -> None:
        """ConnectionTimeOut: a presented tag expires if no EV is plugged in meanwhile."""
        await self.clock.sleep(self.configuration.get_int("ConnectionTimeOut"))
        if connector.waiting_tag == id_tag and connector.transaction is None:
            connector.waiting_tag = None
            self.changed(connector)
            await self.report()

    async def stop_transaction(
        self, connector_id: int, reason: Reason = Reason.LOCAL, id_tag: str | None = None
    ) -> m.StopTransactionResponse | None:
        """Stop the transaction on the connector; the CS's answer once delivered (None if
        there was no transaction, or the stop is still queued because the station is offline)."""
        connector = self.connector(connector_id)
        if connector.transaction is None:
            return None
        delivered = self.end_transaction(connector, reason, id_tag)
        await self.report()
        if not self.online:
            return None
        answer: m.StopTransactionResponse = await delivered
        return answer

    async def suspend(self, connector_id: int, by_ev: bool = True) -> None:
        """The EV stops drawing (SuspendedEV); `resume` lets it draw again."""
        connector = self.connector(connector_id)
        connector.ev_suspended = by_ev
        self.apply_power(connector)
        self.changed(connector)
        await self.report()

    async def resume(self, connector_id: int) -> None:
        await self.suspend(connector_id, by_ev=False)

    async def set_fault(self, connector_id: int, error: ChargePointErrorCode | None) -> None:
        """A fault (None clears it): the connector goes Faulted and back."""
        connector: Connector | StationConnector = (
            self.station if connector_id == 0 else self.connector(connector_id)
        )
        connector.fault = error
        self.changed(connector)
        await self.report()

    # Transactions

    def _begin(
        self, connector: Connector, id_tag: str
    ) -> tuple[Transaction, "asyncio.Future[Any]"]:
        """Start a transaction now; the future gets the StartTransaction answer."""
        now = self.clock.now()
        reservation = self._consume_reservation(connector, id_tag)
        transaction = Transaction(
            connector_id=connector.connector_id,
            id_tag=id_tag,
            meter_start=connector.meter.energy_wh,
            started_at=now,
            reservation_id=reservation.reservation_id if reservation else None,
        )
        connector.transaction = transaction
        connector.waiting_tag = None
        connector.finishing = False
        self.apply_power(connector)
        self._keep_stop_sample(connector, transaction, ReadingContext.TRANSACTION_BEGIN)
        profile = self._pending_profiles.pop(connector.connector_id, None)
        request = m.StartTransactionRequest(
            connector_id=connector.connector_id,
            id_tag=id_tag,
            meter_start=transaction.meter_start,
            timestamp=now,
            reservation_id=UNSET if reservation is None else reservation.reservation_id,
        )
        started = self.transaction_messages.put(lambda: request)
        started.add_done_callback(lambda f: self._started(connector, transaction, profile, f))
        self._samplers[connector.connector_id] = asyncio.create_task(
            self._sample(connector, transaction)
        )
        return transaction, started

    def _consume_reservation(self, connector: Connector, id_tag: str) -> Reservation | None:
        """The reservation this transaction uses up, if any (on the connector, or on 0)."""
        candidates = [connector.reservation] if connector.reservation else []
        candidates += [r for r in self.reservations.values() if r.connector_id == 0]
        for reservation in candidates:
            if reservation is not None and reservation.admits(id_tag):
                self.cancel_reservation(reservation.reservation_id)
                return reservation
        return None

    def _started(
        self,
        connector: Connector,
        transaction: Transaction,
        profile: ChargingProfile | None,
        answered: "asyncio.Future[m.StartTransactionResponse]",
    ) -> None:
        if answered.cancelled() or answered.exception() is not None:
            return  # discarded after its attempts: the transaction goes on without an id
        answer = answered.result()
        transaction.transaction_id = answer.transaction_id
        info = answer.id_tag_info
        self.authorizations.remember(transaction.id_tag, info, self.configuration)
        if profile is not None and connector.transaction is transaction:
            self.profiles.install(
                connector.connector_id, profile, self.clock.now(), answer.transaction_id
            )
            self.apply_power(connector)
        if info.status != AuthorizationStatus.ACCEPTED and connector.transaction is transaction:
            self._refused_during_transaction(connector, transaction)
        self.spawn(self.report())

    def _refused_during_transaction(self, connector: Connector, transaction: Transaction) -> None:
        """The CS did not accept the tag after all (section 3, StartTransaction)."""
        if self.configuration.get_bool("StopTransactionOnInvalidId"):
            self.end_transaction(connector, Reason.DE_AUTHORIZED)
        else:
            # MaxEnergyOnInvalidId is not metered yet: energy is cut at once.
            transaction.energy_cut = True
            self.apply_power(connector)
            self.changed(connector)

    def end_transaction(
        self, connector: Connector, reason: Reason, id_tag: str | None = None
    ) -> "asyncio.Future[Any]":
        """Stop the connector's transaction now; the future gets the CS's answer."""
        transaction = connector.transaction
        assert transaction is not None
        now = self.clock.now()
        self._keep_stop_sample(connector, transaction, ReadingContext.TRANSACTION_END)
        meter_stop = connector.meter.energy_wh
        connector.transaction = None
        # Finishing only if the connector stays operative: an Unavailable one ends the
        # session outright (Unavailable -> Finishing is not a transition of section 7).
        connector.finishing = connector.plugged and connector.operative
        connector.ev_suspended = False
        connector.info = None
        connector.meter.set_power(now, 0, 0)
        sampler = self._samplers.pop(connector.connector_id, None)
        if sampler is not None:
            sampler.cancel()
        self.profiles.transaction_ended(connector.connector_id)
        self.changed(connector)

        def stop_request() -> m.StopTransactionRequest:
            # Built when sent: by then the StartTransaction answer may have given the id.
            return m.StopTransactionRequest(
                meter_stop=meter_stop,
                timestamp=now,
                transaction_id=transaction.wire_id,
                id_tag=id_tag or UNSET,
                reason=reason,
                transaction_data=transaction.samples or UNSET,
            )

        return self.transaction_messages.put(stop_request)

    def transaction(self, transaction_id: int) -> Connector | None:
        """The connector whose running transaction has this id."""
        for connector in self.connectors.values():
            running = connector.transaction
            if running is not None and running.transaction_id == transaction_id:
                return connector
        return None

    def apply_power(self, connector: Connector) -> None:
        """Set the power the EV draws: the charging limit in force, unless suspended."""
        now = self.clock.now()
        transaction = connector.transaction
        if transaction is None:
            connector.meter.set_power(now, 0, 0)
            return
        charging = sum(1 for c in self.connectors.values() if c.transaction is not None)
        limit = self.profiles.limit_w(connector.connector_id, now, transaction.started_at, charging)
        offered = connector.meter.max_power_w if limit is None else limit
        if transaction.energy_cut:
            offered = 0
        full = connector.meter.soc_percent >= 100
        drawn = 0 if connector.ev_suspended or full else offered
        connector.meter.set_power(now, drawn, offered)

    async def _sample(self, connector: Connector, transaction: Transaction) -> None:
        """MeterValues every MeterValueSampleInterval while the transaction runs. The
        interval is read again after each sample, so a change applies from the next one."""
        while connector.transaction is transaction:
            interval = self.configuration.get_int("MeterValueSampleInterval")
            await self.clock.sleep(interval if interval > 0 else DEFAULT_RETRY_SECONDS)
            if interval <= 0 or connector.transaction is not transaction:
                continue
            self.apply_power(connector)  # limits change with time
            self.changed(connector)
            measurands = self.configuration.get_list("MeterValuesSampledData")
            sample = connector.meter.sample(
                self.clock.now(), measurands, ReadingContext.SAMPLE_PERIODIC
            )
            if sample is not None:
                request = m.MeterValuesRequest(
                    connector_id=connector.connector_id, meter_value=[sample]
                )
                self.transaction_messages.put(_with_id_when_sent(request, transaction))
            self._keep_stop_sample(connector, transaction, ReadingContext.SAMPLE_PERIODIC)
            await self.report()

    async def _clock_aligned(self) -> None:
        """MeterValuesAlignedData at every multiple of ClockAlignedDataInterval since
        midnight (UTC), for every connector; those of a transaction are queued with it."""
        while True:
            interval = self.configuration.get_int("ClockAlignedDataInterval")
            if interval <= 0:
                await self.clock.sleep(DEFAULT_RETRY_SECONDS)
                continue
            now = self.clock.now()
            midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
            elapsed = (now - midnight).total_seconds()
            wait = interval - elapsed % interval
            await self.clock.sleep(wait)
            # Stamped at the boundary, as a charger does, whatever the timer's jitter.
            boundary = now + timedelta(seconds=wait)
            for connector in self.connectors.values():
                await self._send_aligned(connector, boundary)

    async def _send_aligned(self, connector: Connector, now: datetime) -> None:
        measurands = self.configuration.get_list("MeterValuesAlignedData")
        sample = connector.meter.sample(now, measurands, ReadingContext.SAMPLE_CLOCK)
        transaction = connector.transaction
        if transaction is not None:
            stop_data = self.configuration.get_list("StopTxnAlignedData")
            stop_sample = connector.meter.sample(now, stop_data, ReadingContext.SAMPLE_CLOCK)
            if stop_sample is not None:
                limit = self.configuration.get_int("StopTransactionMaxMeterValues")
                transaction.keep_sample(stop_sample, limit)
        if sample is None:
            return
        request = m.MeterValuesRequest(connector_id=connector.connector_id, meter_value=[sample])
        if transaction is not None:
            self.transaction_messages.put(_with_id_when_sent(request, transaction))
        elif self.online:
            await self.try_call(request)

    def _keep_stop_sample(
        self, connector: Connector, transaction: Transaction, context: ReadingContext
    ) -> None:
        measurands = self.configuration.get_list("StopTxnSampledData")
        sample = connector.meter.sample(self.clock.now(), measurands, context)
        if sample is not None:
            limit = self.configuration.get_int("StopTransactionMaxMeterValues")
            transaction.keep_sample(sample, limit)

    async def send_meter_values(self, connector_id: int | None) -> None:
        """A triggered MeterValues: the latest values of MeterValuesSampledData."""
        measurands = self.configuration.get_list("MeterValuesSampledData")
        ids = list(self.connectors) if connector_id is None else [connector_id]
        for n in ids:
            connector = self.connector(n)
            sample = connector.meter.sample(self.clock.now(), measurands, ReadingContext.TRIGGER)
            if sample is None:
                continue
            request = m.MeterValuesRequest(connector_id=n, meter_value=[sample])
            if connector.transaction is not None:
                request = _with_id(request, connector.transaction)
            await self.try_call(request)

    # Reservations

    def reserve(self, reservation: Reservation) -> None:
        self.cancel_reservation(reservation.reservation_id)  # the same id replaces
        self.reservations[reservation.reservation_id] = reservation
        if reservation.connector_id > 0:
            connector = self.connector(reservation.connector_id)
            connector.reservation = reservation
            self.changed(connector)
        self.spawn(self._expire(reservation))

    def cancel_reservation(self, reservation_id: int) -> bool:
        reservation = self.reservations.pop(reservation_id, None)
        if reservation is None:
            return False
        if reservation.connector_id > 0:
            connector = self.connector(reservation.connector_id)
            connector.reservation = None
            self.changed(connector)
        return True

    async def _expire(self, reservation: Reservation) -> None:
        remaining = (reservation.expiry - self.clock.now()).total_seconds()
        await self.clock.sleep(remaining)
        if self.reservations.get(reservation.reservation_id) is reservation:
            self.cancel_reservation(reservation.reservation_id)
            await self.report()

    # Remote start, reset, firmware

    def remote_start(
        self, connector: Connector, id_tag: str, profile: ChargingProfile | None
    ) -> None:
        if profile is not None:
            self._pending_profiles[connector.connector_id] = profile
        self.spawn(self._remote_start(connector, id_tag))

    async def _remote_start(self, connector: Connector, id_tag: str) -> None:
        if self.configuration.get_bool("AuthorizeRemoteTxRequests"):
            info = await self.authorize(id_tag)
            if info.status != AuthorizationStatus.ACCEPTED:
                self._pending_profiles.pop(connector.connector_id, None)
                return
        # Otherwise the CS validates the tag when it answers StartTransaction.
        if connector.available_for:
            await self.present(connector, id_tag)

    def reset(self, reset_type: ResetType) -> None:
        """Stop every transaction (the stops stay queued), then reboot."""
        reason = Reason.HARD_RESET if reset_type == ResetType.HARD else Reason.SOFT_RESET
        for connector in self.connectors.values():
            if connector.transaction is not None:
                self.end_transaction(connector, reason)
        self.spawn(self._restart(graceful=reset_type == ResetType.SOFT))

    async def _restart(self, graceful: bool) -> None:
        await self.report()
        if graceful and self.online:
            # A soft reset lets the stops go out first; whatever is left stays queued.
            timeout = self.clock.real_seconds(self.configuration.get_int("MessageTimeout"))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.transaction_messages.drain(), timeout)
        if self.client is None:
            await self._reboot()  # offline: reboot without waiting for a connection
        else:
            self._reboot_pending = True  # once the connection is closed
            self._hang_up.set()

    async def _reboot(self) -> None:
        """What a restart forgets: the registration and the tags waiting for an EV."""
        self._reboot_pending = False
        self.registration = None
        self._accepted.clear()
        self._outbox.clear()
        for connector in self.connectors.values():
            connector.waiting_tag = None
            connector.update()
        await self.clock.sleep(REBOOT_SECONDS)

    def after_boot(self, request: Payload) -> None:
        """Send `request` after the next accepted boot (Installed after an update)."""
        self._after_boot.append(request)

    def request_reboot(self) -> None:
        self._reboot_pending = True
        self._hang_up.set()

    @property
    def transactions_running(self) -> bool:
        return any(c.transaction is not None for c in self.connectors.values())

    def connector_status(self, connector_id: int) -> ChargePointStatus:
        return self.station.status if connector_id == 0 else self.connector(connector_id).status


def _with_id(request: m.MeterValuesRequest, transaction: Transaction) -> m.MeterValuesRequest:
    return m.MeterValuesRequest(
        connector_id=request.connector_id,
        meter_value=request.meter_value,
        transaction_id=transaction.wire_id,
    )


def _with_id_when_sent(
    request: m.MeterValuesRequest, transaction: Transaction
) -> Callable[[], m.MeterValuesRequest]:
    """Queued before the StartTransaction answer, sent with the id it brought."""
    return lambda: _with_id(request, transaction)


def _backoff(failures: int) -> float:
    """Seconds before the next attempt: doubling up to a minute, with jitter so that a
    thousand stations do not come back in the same second."""
    ceiling = min(MAX_BACKOFF_SECONDS, 2 ** min(failures, 10))
    return random.uniform(ceiling / 2, ceiling)


def _describe(exc: BaseException) -> str:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return f"HTTP {status}" if status is not None else type(exc).__name__
