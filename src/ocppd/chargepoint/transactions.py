"""Transactions and the delivery of transaction-related messages (behaviour notes section 5).

StartTransaction, StopTransaction and the periodic MeterValues of a transaction go through
`TransactionMessages`: sent in chronological order, one at a time, kept while the station is
offline, retried `TransactionMessageAttempts` times with `TransactionMessageRetryInterval` x n
between attempts, then discarded. A queued message names its transaction: the transactionId
is put in when it is sent, so a MeterValues queued before the StartTransaction answer still
carries the id that answer brought.

The queue is data (requests, not closures), so that the station can write it to its state
file: `on_change` is called, synchronously, after every put and every removal, and a message
counts as queued once that call has returned (see `state.py`).
"""

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from ocppd.chargepoint.clock import Clock
from ocppd.chargepoint.configuration import Configuration
from ocppd.protocol import messages as m
from ocppd.protocol.datatypes import MeterValue
from ocppd.protocol.errors import OCPPError
from ocppd.protocol.fields import Payload
from ocppd.rpc.session import CallTimeout

log = logging.getLogger("ocppd.chargepoint")

NO_TRANSACTION_ID = -1
"""What a charge point that never received a transactionId sends instead (errata)."""


@dataclass(eq=False)
class Transaction:
    connector_id: int
    id_tag: str
    meter_start: int
    started_at: datetime
    local_id: int = 0
    """The station's own number for it: how the state file refers to it."""
    reservation_id: int | None = None
    transaction_id: int | None = None
    """Set by the StartTransaction answer; None while it has not arrived."""
    parent_id_tag: str | None = None
    energy_cut: bool = False
    """The CS did not accept the tag and StopTransactionOnInvalidId is false."""
    energy_limit_wh: float | None = None
    """The register at which energy is cut: MaxEnergyOnInvalidId after the refusal."""
    samples: list[MeterValue] = field(default_factory=list)
    """The StopTxnSampledData readings, sent as transactionData with the stop."""

    id_ignored: bool = False
    """A quirk: the station sends -1 though it has the id (`quirks.py`)."""

    @property
    def wire_id(self) -> int:
        if self.transaction_id is None or self.id_ignored:
            return NO_TRANSACTION_ID
        return self.transaction_id

    def keep_sample(self, sample: MeterValue, limit: int) -> None:
        """Add a reading for transactionData; beyond `limit`, thin out the middle first
        (StopTransactionMaxMeterValues), keeping the first and the latest."""
        self.samples.append(sample)
        while limit >= 2 and len(self.samples) > limit:
            del self.samples[len(self.samples) // 2]


Call = Callable[[Payload], Awaitable[Any]]


@dataclass(eq=False)
class QueuedMessage:
    request: Payload
    transaction: Transaction | None = None
    """Whose transactionId goes into the request when it is sent (not for a start)."""
    attempts: int = 0
    _result: "asyncio.Future[Any] | None" = None

    def build(self) -> Payload:
        transaction = self.transaction
        if transaction is None or isinstance(self.request, m.StartTransactionRequest):
            return self.request
        return msgspec.structs.replace(self.request, transaction_id=transaction.wire_id)

    @property
    def result(self) -> "asyncio.Future[Any]":
        """The answer once delivered, or the last error once discarded. A message restored
        from the state file gets its future when first asked, inside the event loop."""
        if self._result is None:
            self._result = asyncio.get_running_loop().create_future()
            # An unobserved discarded message is normal (the station goes on): no warning.
            self._result.add_done_callback(lambda f: f.cancelled() or f.exception())
        return self._result


class TransactionMessages:
    """The queue of transaction-related messages of one station; it outlives connections."""

    def __init__(self, clock: Clock, configuration: Configuration) -> None:
        self.clock = clock
        self.configuration = configuration
        self._queue: deque[QueuedMessage] = deque()
        self._queued = asyncio.Event()
        self.discarded = 0
        self.on_change: Callable[[], None] | None = None
        """Called after every put and removal (the station saves its state there)."""

    def put(self, request: Payload, transaction: Transaction | None = None) -> asyncio.Future[Any]:
        """Queue a message; the future gets its answer once delivered, or the last error
        once discarded. Nobody has to await it."""
        message = QueuedMessage(request, transaction)
        future = message.result
        self._queue.append(message)
        self._changed()
        return future

    def restore(self, messages: list[QueuedMessage]) -> None:
        """Put back what the state file held, before anything new."""
        self._queue.extendleft(reversed(messages))
        if self._queue:
            self._queued.set()

    def messages(self) -> list[QueuedMessage]:
        return list(self._queue)

    def _changed(self) -> None:
        if self._queue:
            self._queued.set()
        if self.on_change is not None:
            self.on_change()

    def __len__(self) -> int:
        return len(self._queue)

    async def drain(self) -> None:
        """Return when nothing is left to deliver."""
        while self._queue:
            await asyncio.wait({self._queue[-1].result})

    async def deliver(self, call: Call) -> None:
        """Send queued messages with `call`, in order, until cancelled or the connection
        closes (SessionClosed): the message in flight then stays first in the queue."""
        while True:
            while not self._queue:
                self._queued.clear()
                await self._queued.wait()
            message = self._queue[0]
            try:
                answer = await call(message.build())
            except (CallTimeout, OCPPError) as exc:
                # A CALLERROR, a timeout or an invalid answer: a failure to process.
                await self._failed(message, exc)
                continue
            if isinstance(answer, m.StartTransactionResponse) and message.transaction:
                # Here, not in a callback of the future: a message restored from the state
                # file has nobody waiting, and the next messages need the id.
                message.transaction.transaction_id = answer.transaction_id
            self._queue.popleft()
            self._changed()
            if not message.result.done():
                message.result.set_result(answer)

    async def _failed(self, message: QueuedMessage, error: Exception) -> None:
        message.attempts += 1
        attempts = self.configuration.get_int("TransactionMessageAttempts")
        if message.attempts >= max(attempts, 1):
            log.warning("transaction message discarded after %d attempts: %r", attempts, error)
            self._queue.popleft()
            self.discarded += 1
            self._changed()
            if not message.result.done():
                message.result.set_exception(error)
            return
        if self.on_change is not None:
            self.on_change()  # the attempts made so far survive a restart
        interval = self.configuration.get_int("TransactionMessageRetryInterval")
        await self.clock.sleep(interval * message.attempts)
