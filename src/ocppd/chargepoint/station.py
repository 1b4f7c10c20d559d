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

The station is split by concern: this module is its life with the central system (the
connection, boot, heartbeats, status reports, reservations, reset) and its state file
(`state.py`, with `state_dir`); `charging.py` the driver's steps, transactions and meter
values; `commands.py` the answers to the central system; `files.py` diagnostics and firmware
transfers; `quirks.py` the departures from the specification a persona makes.
"""

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msgspec import UNSET, UnsetType

from ocppd import __version__
from ocppd.chargepoint import state
from ocppd.chargepoint.authorization import Authorizations
from ocppd.chargepoint.charging import Charging
from ocppd.chargepoint.clock import Clock
from ocppd.chargepoint.configuration import Configuration
from ocppd.chargepoint.connectors import Connector, Reservation, StationConnector
from ocppd.chargepoint.files import SUPPORTED, TransferOptions
from ocppd.chargepoint.meter import Meter
from ocppd.chargepoint.quirks import Quirk, QuirkRewriter
from ocppd.chargepoint.security import SecuritySettings, StationSecurity
from ocppd.chargepoint.smart_charging import ChargingProfiles
from ocppd.chargepoint.stats import CALL_ERROR, Stats
from ocppd.chargepoint.transactions import Transaction, TransactionMessages
from ocppd.protocol import messages as m
from ocppd.protocol.actions import Registry, spec_for_request
from ocppd.protocol.datatypes import ChargingProfile, IdTagInfo
from ocppd.protocol.enums import (
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    DiagnosticsStatus,
    FirmwareStatus,
    Reason,
    RegistrationStatus,
    ResetType,
)
from ocppd.protocol.errors import CallErrorReceived, OCPPError, PayloadError
from ocppd.protocol.fields import Payload
from ocppd.protocol.smart_charging import InstalledProfile
from ocppd.rpc.connection import UniqueIds
from ocppd.rpc.session import CallTimeout, SessionClosed
from ocppd.transport.client import CONNECT_ERRORS, ChargePointClient, ClientOptions, connect

log = logging.getLogger("ocppd.chargepoint")

DEFAULT_RETRY_SECONDS = 60
"""The wait before the next BootNotification when the CS answers interval 0."""
REBOOT_SECONDS = 5
MAX_BACKOFF_SECONDS = 60
SAVE_DELAY_SECONDS = 0.2
"""Real seconds between a change (other than a queued message) and its write to disk."""


@dataclass(frozen=True)
class ChargerModel:
    """What the station says of itself in BootNotification, and its hardware."""

    vendor: str = "ocppd"
    model: str = "Simulator"
    serial_number: str | None = None
    firmware_version: str = f"ocppd-{__version__}"
    connectors: int = 2
    max_power_w: float = 22_080.0


class Station(Charging):
    def __init__(
        self,
        url: str,
        identity: str,
        *,
        model: ChargerModel | None = None,
        clock: Clock | None = None,
        client_options: ClientOptions | None = None,
        configuration: dict[str, str] | None = None,
        state_dir: Path | str | None = None,
        file_transfer: TransferOptions | None = None,
        quirks: frozenset[Quirk] = frozenset(),
        security: SecuritySettings | None = None,
    ) -> None:
        """`state_dir`: where the station keeps its state file (`<identity>.json`), read
        at once if it exists; None = nothing survives the Station object. `security`: its
        security profile, certificates and the security extension (`security.py`)."""
        self.url = url
        self.identity = identity
        self.model = model if model is not None else ChargerModel()
        self.clock = clock if clock is not None else Clock()
        self.client_options = client_options if client_options is not None else ClientOptions()
        self.file_transfer = file_transfer if file_transfer is not None else TransferOptions()
        supported = {"SupportedFileTransferProtocols": SUPPORTED[self.file_transfer.protocols]}
        self.configuration = Configuration(self.model.connectors, supported | (configuration or {}))
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
        self.firmware_version = self.model.firmware_version
        self.quirks = frozenset(quirks)
        """How this station departs from the specification (`quirks.py`); none by default."""
        self.firmware_image: bytes | None = None
        """The last image downloaded by UpdateFirmware."""
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
        self._report_timer: asyncio.Task[None] | None = None
        self._current_states = 0
        """How many entries at the head of the outbox are current states (after a boot or
        an offline period): sent at once, whatever MinimumStatusDuration says."""
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
        self._next_local_id = 1
        self._save_handle: asyncio.TimerHandle | None = None
        self._started_once = False
        self.security = StationSecurity(self, security or SecuritySettings())
        self.registry = Registry({"security"} if self.security.settings.extension else set())
        self.state_file = None if state_dir is None else state.state_path(Path(state_dir), identity)
        if self.state_file is not None:
            saved = state.load(self.state_file)
            if saved is not None:
                self._restore(saved)
            self.transaction_messages.on_change = self.save
        # The commands use the station.
        from ocppd.chargepoint.commands import Commands
        from ocppd.chargepoint.security_commands import SecurityCommands

        commands = Commands(self)
        self.security_commands = SecurityCommands(self, commands)
        self.handlers = commands.handlers(self.security_commands.handlers())

    # Lifetime

    def start(self) -> None:
        """Connect and keep connected, in the background, until `stop`."""
        if self._life is None:
            if not self._started_once:
                self._started_once = True
                self.security.events.record("StartupOfTheDevice")
            self._life = asyncio.create_task(self._live(), name=f"station {self.identity}")
            self.spawn(self._clock_aligned(), name=f"aligned {self.identity}")

    async def stop(self, save: bool = True) -> None:
        """Stop at once, as a power cut would: nothing more is sent. `save=False` leaves
        the state file as it is (a killed simulator: only what was written survives)."""
        if save:
            self.save()
        elif self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None
        self.transaction_messages.on_change = None
        tasks = [self._life, self._report_timer, *self._samplers.values(), *self._background]
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

    def spawn(self, coroutine: Coroutine[Any, Any, Any], name: str = "") -> asyncio.Task[Any]:
        """Run a follow-up of a command after its answer (a report, a triggered message)."""
        task = asyncio.create_task(coroutine, name=name or None)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _live(self) -> None:
        failures = 0
        while True:
            await self._may_connect.wait()
            try:
                client = await connect(
                    self.security.url(),
                    self.identity,
                    options=self._connect_options(),
                    handlers=self.handlers,
                    registry=self.registry,
                    ids=self.ids,
                )
            except Exception as exc:
                failures += 1
                self.stats.errors[f"connect {_describe(exc)}"] += 1
                if isinstance(exc, CONNECT_ERRORS):
                    self.security.connect_failed(exc)
                elif failures == 1:
                    # A setting the client refuses, or a defect of ours: not the end of the
                    # station (the summary said "errors: none" while none could connect).
                    log.warning(
                        "%s: cannot connect: %s: %s", self.identity, type(exc).__name__, exc
                    )
                await self.clock.sleep(_backoff(failures))
                continue
            self.stats.connections += 1
            self.security.connected(client)
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
        outgoing = self.client_options.outgoing
        if outgoing is None and self.quirks:
            outgoing = QuirkRewriter(self.quirks)
        options = dataclasses.replace(
            self.client_options,
            ping_interval=self.clock.real_seconds(ping) if ping > 0 else None,
            outgoing=outgoing,
        )
        return self.security.client_options(options)

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
            # One turn of the loop: the calls the close failed see their SessionClosed
            # before they are cancelled (else their futures log "never retrieved").
            await asyncio.sleep(0)
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
            if self.security.settings.extension:
                events = self.security.events.deliver(self.call)
                self._run_connection_task("security events", events)
            self.security.accepted()
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
            firmware_version=self.firmware_version,
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
                shift = (answer.current_time - self.clock.now()).total_seconds()
                self.clock.set(answer.current_time)
                if abs(shift) > 1:
                    self.security.events.record("SettingSystemTime", f"{shift:+.0f} s")
            if answer.interval > 0:
                self.configuration.set("HeartbeatInterval", str(answer.interval))
            # After a boot every connector is reported, changed or not (errata).
            for connector in self._all_connectors():
                connector.update()
            self._outbox = [self._status_request(c) for c in self._all_connectors()]
            self._current_states = len(self._outbox)
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
            self.stats.errors[f"{CALL_ERROR}{action} {exc.wire_code}"] += 1
            raise
        except PayloadError as exc:
            self.stats.errors[f"Invalid {action} {exc.code.value}"] += 1
            raise
        self.stats.answered(action, time.monotonic() - started)
        info = getattr(answer, "id_tag_info", None)  # Authorize, Start/StopTransaction
        if isinstance(info, IdTagInfo) and info.status != AuthorizationStatus.ACCEPTED:
            self.stats.refused[f"{action} {info.status.value}"] += 1
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
        self._current_states = len(self._outbox)

    async def report(self) -> None:
        """Send the queued StatusNotifications, in order, while online. With
        MinimumStatusDuration, a status is sent once it has lasted that long, and one
        that changed again sooner is not sent at all."""
        async with self._report_lock:
            while self._outbox and self.online:
                wait = 0.0 if self._current_states else self._too_recent(self._outbox[0])
                if wait is None:
                    self._outbox.pop(0)  # it did not last: never reported
                    continue
                if wait > 0:
                    if self._report_timer is None or self._report_timer.done():
                        self._report_timer = asyncio.create_task(self._report_after(wait))
                    return
                try:
                    await self.call(self._outbox[0])
                except (CallTimeout, OCPPError):
                    pass  # a charger does not resend a refused status
                except SessionClosed:
                    return
                self._outbox.pop(0)
                self._current_states = max(0, self._current_states - 1)

    def _too_recent(self, request: m.StatusNotificationRequest) -> float | None:
        """Seconds until `request` has lasted MinimumStatusDuration (0: send it now), or
        None when a newer status of its connector replaced it sooner."""
        minimum = self.configuration.get_int("MinimumStatusDuration")
        since = request.timestamp
        if minimum <= 0 or isinstance(since, UnsetType):
            return 0
        for later in self._outbox:
            if later.connector_id == request.connector_id and later is not request:
                until = later.timestamp
                lasted = None if isinstance(until, UnsetType) else (until - since)
                if lasted is not None and lasted.total_seconds() < minimum:
                    return None
                return 0
        return max(0.0, minimum - (self.clock.now() - since).total_seconds())

    async def _report_after(self, seconds: float) -> None:
        await self.clock.sleep(seconds)
        await self.report()

    async def send_status(self, connector_id: int | None) -> None:
        """StatusNotification of the current state (a trigger): one connector, or all."""
        connectors = (
            self._all_connectors()
            if connector_id is None
            else ([self.station] if connector_id == 0 else [self.connector(connector_id)])
        )
        for connector in connectors:
            await self.try_call(self._status_request(connector))

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

    # Reset and firmware

    def reset(self, reset_type: ResetType) -> None:
        """Stop every transaction (the stops stay queued), then reboot."""
        reason = Reason.HARD_RESET if reset_type == ResetType.HARD else Reason.SOFT_RESET
        self.security.events.record("ResetOrReboot", f"{reset_type} reset")
        for connector in self.connectors.values():
            if connector.transaction is not None:
                self.end_transaction(connector, reason)
        self.spawn(self._restart(graceful=reset_type == ResetType.SOFT))

    async def _restart(self, graceful: bool) -> None:
        await self.report()
        if graceful and self.online:
            # A soft reset lets the stops and its own ResetOrReboot go out first (hung up
            # with it in flight, it would go again after the reboot); the rest stays queued.
            timeout = self.clock.real_seconds(self.configuration.get_int("MessageTimeout"))
            queues = (self.transaction_messages.drain(), self.security.events.drain())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*queues), timeout)
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
        self._current_states = 0
        for connector in self.connectors.values():
            connector.waiting_tag = None
            connector.installing = False  # installed, or not: it charges again
            connector.update()
        await self.clock.sleep(REBOOT_SECONDS)
        self.security.events.record("StartupOfTheDevice")

    def after_boot(self, request: Payload) -> None:
        """Send `request` after the next accepted boot (Installed after an update)."""
        self._after_boot.append(request)

    def request_reboot(self) -> None:
        self._reboot_pending = True
        self._hang_up.set()

    def request_reconnect(self) -> None:
        """Close the connection and open a new one (new credentials), without a reboot."""
        self._hang_up.set()

    def connector_status(self, connector_id: int) -> ChargePointStatus:
        return self.station.status if connector_id == 0 else self.connector(connector_id).status

    # The state file

    def new_transaction_id(self) -> int:
        """A local number for a new transaction (the CS's transactionId comes later)."""
        number = self._next_local_id
        self._next_local_id += 1
        return number

    def dirty(self) -> None:
        """Something worth keeping changed: written to the state file in a moment."""
        if self.state_file is None or self._save_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.save()
            return
        self._save_handle = loop.call_later(SAVE_DELAY_SECONDS, self.save)

    def save(self) -> None:
        """Write the state file now (nothing without a state directory)."""
        if self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None
        if self.state_file is not None:
            state.save(self.state_file, self.snapshot())

    def snapshot(self) -> state.StationState:
        """What the state file holds (see `state.py`)."""
        now = self.clock.now()
        messages = self.transaction_messages.messages()
        transactions: dict[int, Transaction] = {}
        for message in messages:
            if message.transaction is not None:
                transactions[message.transaction.local_id] = message.transaction
        connectors = {}
        for n, connector in self.connectors.items():
            connector.meter.advance(now)
            running = connector.transaction
            if running is not None:
                transactions[running.local_id] = running
            connectors[n] = state.SavedConnector(
                operative=connector.operative,
                register_wh=connector.meter.register_wh,
                transaction=None if running is None else running.local_id,
            )
        local_list = self.authorizations.local_list
        return state.StationState(
            identity=self.identity,
            saved_at=now,
            firmware_version=self.firmware_version,
            configuration=self.configuration.values(),
            local_list_version=local_list.version,
            local_list=dict(local_list.entries),
            cache=dict(self.authorizations.cache),
            profiles=[
                state.SavedProfile(
                    item.connector_id, item.profile, item.received_at, item.transaction_id
                )
                for item in self.profiles.installed
            ],
            station_operative=self.station.operative,
            connectors=connectors,
            transactions=[state.saved_transaction(t) for t in transactions.values()],
            queue=[state.saved_message(message) for message in messages],
            next_local_id=self._next_local_id,
            security=self.security.saved(),
        )

    def _restore(self, saved: state.StationState) -> None:
        """Take the state of the file; transactions that were running end with PowerLoss."""
        if saved.saved_at > self.clock.now():
            # A fast clock ran ahead of real time before the restart: time goes on from
            # there, never back (queued messages keep their order in time).
            self.clock.set(saved.saved_at)
        for key, value in saved.configuration.items():
            if key == "SupportedFileTransferProtocols":
                continue  # what it speaks is this run's choice (--upload-method)
            with contextlib.suppress(KeyError, ValueError):  # a key of another version
                self.configuration.set(key, value)
        if saved.firmware_version is not None:
            self.firmware_version = saved.firmware_version
        if saved.security is not None:
            self.security.restore(saved.security)
        self.authorizations.local_list.version = saved.local_list_version
        self.authorizations.local_list.entries = dict(saved.local_list)
        self.authorizations.cache = dict(saved.cache)
        self.profiles.installed = tuple(
            InstalledProfile(p.connector_id, p.profile, p.received_at, p.transaction_id)
            for p in saved.profiles
        )
        self.station.operative = saved.station_operative
        transactions = {t.local_id: state.restored_transaction(t) for t in saved.transactions}
        queue = [state.restored_message(message, transactions) for message in saved.queue]
        self._next_local_id = saved.next_local_id
        power_lost = False
        for n, kept in saved.connectors.items():
            connector = self.connectors.get(n)
            if connector is None:
                continue
            connector.operative = kept.operative
            connector.meter.register_wh = kept.register_wh
            running = transactions.get(kept.transaction) if kept.transaction else None
            if running is not None:
                queue.append(state.power_loss_stop(running, int(kept.register_wh), saved.saved_at))
                self.profiles.transaction_ended(n)
                power_lost = True
        for each in self._all_connectors():
            each.update()
        self.transaction_messages.restore(queue)
        if power_lost:
            self.save()  # the stops are queued: on disk before anything else happens


def _backoff(failures: int) -> float:
    """Seconds before the next attempt: doubling up to a minute, with jitter so that a
    thousand stations do not come back in the same second."""
    ceiling = min(MAX_BACKOFF_SECONDS, 2 ** min(failures, 10))
    return random.uniform(ceiling / 2, ceiling)


def _describe(exc: BaseException) -> str:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return f"HTTP {status}" if status is not None else type(exc).__name__
