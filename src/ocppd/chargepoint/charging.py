"""The charging of a station: the driver's steps, transactions, meter values.

`Charging` is a part of `Station` (a mixin, for the length of one file): plug in, present a
tag, start and stop transactions, suspend, fault; the power the EV draws under the limits in
force; periodic and clock-aligned meter values. The attributes and methods it uses from
the rest of the station are declared below for the type checker.
"""

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec
from msgspec import UNSET

from ocppd.chargepoint.authorization import Authorizations
from ocppd.chargepoint.clock import Clock
from ocppd.chargepoint.configuration import Configuration
from ocppd.chargepoint.connectors import Connector, Reservation, StationConnector
from ocppd.chargepoint.meter import Meter
from ocppd.chargepoint.quirks import Quirk
from ocppd.chargepoint.smart_charging import ChargingProfiles
from ocppd.chargepoint.transactions import Transaction, TransactionMessages
from ocppd.protocol import messages as m
from ocppd.protocol.datatypes import ChargingProfile, IdTagInfo
from ocppd.protocol.enums import (
    AuthorizationStatus,
    ChargePointErrorCode,
    Measurand,
    ReadingContext,
    Reason,
)
from ocppd.protocol.errors import OCPPError
from ocppd.rpc.session import CallTimeout, SessionClosed

DEFAULT_INTERVAL_SECONDS = 60
"""The wait of a sampler whose interval is 0 (off), before it looks again."""


class Charging:
    if TYPE_CHECKING:
        clock: Clock
        configuration: Configuration
        connectors: dict[int, Connector]
        station: StationConnector
        authorizations: Authorizations
        profiles: ChargingProfiles
        reservations: dict[int, Reservation]
        transaction_messages: TransactionMessages
        _pending_profiles: dict[int, ChargingProfile]
        _samplers: dict[int, asyncio.Task[None]]
        quirks: frozenset[Quirk]

        @property
        def online(self) -> bool: ...
        def connector(self, connector_id: int) -> Connector: ...
        def changed(self, connector: Connector | StationConnector) -> None: ...
        async def report(self) -> None: ...
        def spawn(self, coroutine: Any, name: str = "") -> "asyncio.Task[Any]": ...
        async def call(self, request: Any) -> Any: ...
        async def try_call(self, request: Any) -> Any: ...
        def cancel_reservation(self, reservation_id: int) -> bool: ...
        def new_transaction_id(self) -> int: ...
        def dirty(self) -> None: ...

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
        else:
            connector.plugged_at = self.clock.now()
            self.spawn(self._plugged_timeout(connector, connector.plugged_at))
        self.changed(connector)
        await self.report()
        return None

    async def _plugged_timeout(self, connector: Connector, plugged_at: datetime) -> None:
        """ConnectionTimeOut with the EV plugged in but no tag presented: Preparing ends,
        in Finishing while the plug stays in (errata, section 7)."""
        await self.clock.sleep(self.configuration.get_int("ConnectionTimeOut"))
        idle = connector.transaction is None and connector.waiting_tag is None
        if connector.plugged and connector.plugged_at == plugged_at and idle:
            connector.finishing = connector.operative
            self.changed(connector)
            await self.report()

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
                self.dirty()
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
        transaction = await self.present(connector, id_tag)
        if transaction is not None and transaction.parent_id_tag is None:
            parent = info.parent_id_tag
            transaction.parent_id_tag = None if parent is UNSET else parent
        return transaction

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
        running = connector.transaction
        if running is None:
            return None
        if id_tag is not None and id_tag.lower() != running.id_tag.lower():
            # Another tag: authorized first (section 3), and only a tag of the same group
            # (parentIdTag) may stop it.
            info = await self.authorize(id_tag)
            parent = None if info.parent_id_tag is UNSET else info.parent_id_tag
            same_group = (
                parent is not None
                and running.parent_id_tag is not None
                and parent.lower() == running.parent_id_tag.lower()
            )
            if info.status != AuthorizationStatus.ACCEPTED or not same_group:
                return None
            if connector.transaction is not running:
                return None  # it ended meanwhile
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
        """A fault (None clears it): the connector goes Faulted and back. A fault stops the
        transaction running on the connector (reason Other)."""
        connector: Connector | StationConnector = (
            self.station if connector_id == 0 else self.connector(connector_id)
        )
        connector.fault = error
        if error is not None and isinstance(connector, Connector) and connector.transaction:
            self.end_transaction(connector, Reason.OTHER)  # reported Faulted, not Finishing
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
            local_id=self.new_transaction_id(),
            connector_id=connector.connector_id,
            id_tag=id_tag,
            meter_start=connector.meter.energy_wh,
            started_at=now,
            reservation_id=reservation.reservation_id if reservation else None,
        )
        if not self.online and Quirk.MINUS_ONE_AFTER_OFFLINE_START in self.quirks:
            transaction.id_ignored = True
        connector.transaction = transaction
        connector.plugged_at = None  # a session began: ConnectionTimeOut is over
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
        started = self.transaction_messages.put(request, transaction)
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
        transaction.transaction_id = answer.transaction_id  # the queue has set it already
        info = answer.id_tag_info
        if info.parent_id_tag is not UNSET:
            transaction.parent_id_tag = info.parent_id_tag
        self.authorizations.remember(transaction.id_tag, info, self.configuration)
        self.dirty()
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
            # Energy goes on up to MaxEnergyOnInvalidId more, then is cut.
            allowance = self.configuration.get_int("MaxEnergyOnInvalidId")
            connector.meter.advance(self.clock.now())
            transaction.energy_limit_wh = connector.meter.register_wh + allowance
            connector.meter.cut_off_wh = transaction.energy_limit_wh
            self.apply_power(connector)
            self.changed(connector)
            if not transaction.energy_cut:
                self.spawn(self._cut_energy_at_limit(connector, transaction))

    async def _cut_energy_at_limit(self, connector: Connector, transaction: Transaction) -> None:
        """Wait until the transaction has drawn its MaxEnergyOnInvalidId, then cut it."""
        while connector.transaction is transaction and not transaction.energy_cut:
            limit = transaction.energy_limit_wh
            assert limit is not None
            meter = connector.meter
            meter.advance(self.clock.now())
            left_wh = limit - meter.register_wh
            power = meter.power_w
            wait = DEFAULT_INTERVAL_SECONDS if power <= 0 else left_wh / power * 3600
            await self.clock.sleep(min(max(wait, 0), DEFAULT_INTERVAL_SECONDS))
            if connector.transaction is transaction:
                self.apply_power(connector)
                self.changed(connector)
                await self.report()

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
        connector.finishing = connector.plugged and connector.operative and not connector.installing
        connector.ev_suspended = False
        connector.info = None
        connector.meter.set_power(now, 0, 0)
        connector.meter.cut_off_wh = None
        sampler = self._samplers.pop(connector.connector_id, None)
        if sampler is not None:
            sampler.cancel()
        self.profiles.transaction_ended(connector.connector_id)
        self.changed(connector)
        # The queue puts the transactionId in when it sends the stop: by then the
        # StartTransaction answer may have given it.
        request = m.StopTransactionRequest(
            meter_stop=meter_stop,
            timestamp=now,
            transaction_id=transaction.wire_id,
            id_tag=id_tag or UNSET,
            reason=reason,
            transaction_data=list(transaction.samples) or UNSET,
        )
        return self.transaction_messages.put(request, transaction)

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
        meter = connector.meter
        meter.advance(now)
        cap = transaction.energy_limit_wh
        if cap is not None and meter.register_wh >= cap - 0.01:
            transaction.energy_cut = True  # MaxEnergyOnInvalidId drawn
        if transaction.energy_cut:
            offered = 0
        if meter.soc_percent >= 100 and not connector.ev_suspended:
            connector.ev_suspended = True  # a full battery takes nothing: SuspendedEV
        drawn = 0 if connector.ev_suspended else offered
        if meter.ev_max_power_w is not None:
            drawn = min(drawn, meter.ev_max_power_w)
        connector.meter.set_power(now, drawn, offered)

    async def _sample(self, connector: Connector, transaction: Transaction) -> None:
        """MeterValues every MeterValueSampleInterval while the transaction runs. The
        interval is read again after each sample, so a change applies from the next one."""
        while connector.transaction is transaction:
            interval = self.configuration.get_int("MeterValueSampleInterval")
            await self.clock.sleep(interval if interval > 0 else DEFAULT_INTERVAL_SECONDS)
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
                self.transaction_messages.put(request, transaction)
            self._keep_stop_sample(connector, transaction, ReadingContext.SAMPLE_PERIODIC)
            await self.report()

    async def _clock_aligned(self) -> None:
        """MeterValuesAlignedData at every multiple of ClockAlignedDataInterval since
        midnight (UTC), for every connector; those of a transaction are queued with it."""
        while True:
            interval = self.configuration.get_int("ClockAlignedDataInterval")
            if interval <= 0:
                await self.clock.sleep(DEFAULT_INTERVAL_SECONDS)
                continue
            now = self.clock.now()
            midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
            elapsed = (now - midnight).total_seconds()
            wait = interval - elapsed % interval
            await self.clock.sleep(wait)
            # Stamped at the boundary, as a charger does, whatever the timer's jitter.
            boundary = now + timedelta(seconds=wait)
            await self._send_main_meter(boundary)
            for connector in self.connectors.values():
                await self._send_aligned(connector, boundary)

    def main_meter(self, now: datetime) -> Meter:
        """Connector 0: the station's main meter, what all its connectors draw together."""
        meters = [c.meter for c in self.connectors.values()]
        for meter in meters:
            meter.advance(now)
        return Meter(
            max_power_w=sum(m.max_power_w for m in meters),
            register_wh=sum(m.register_wh for m in meters),
            power_w=sum(m.power_w for m in meters),
            offered_w=sum(m.offered_w for m in meters),
        )

    async def _send_main_meter(self, now: datetime) -> None:
        """The main meter's clock-aligned reading: connector 0, never with a transactionId
        (section 3, MeterValues); the EV's SoC is not its to read."""
        measurands = [
            name
            for name in self.configuration.get_list("MeterValuesAlignedData")
            if name != Measurand.SOC
        ]
        sample = self.main_meter(now).sample(now, measurands, ReadingContext.SAMPLE_CLOCK)
        if sample is not None and self.online:
            await self.try_call(m.MeterValuesRequest(connector_id=0, meter_value=[sample]))

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
            self.transaction_messages.put(request, transaction)
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
                request = _with_id(request, connector.transaction)  # not queued: now
            await self.try_call(request)

    # Remote start

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

    @property
    def transactions_running(self) -> bool:
        return any(c.transaction is not None for c in self.connectors.values())


def _with_id(request: m.MeterValuesRequest, transaction: Transaction) -> m.MeterValuesRequest:
    return msgspec.structs.replace(request, transaction_id=transaction.wire_id)
