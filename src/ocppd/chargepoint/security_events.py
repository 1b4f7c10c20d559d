"""The station's security log and its SecurityEventNotifications (white paper A04, section 8).

Every security event is written to the security log (A04.FR.04: a rolling log, the newest
`LOG_LENGTH` kept; GetLog SecurityLog uploads it) and queued for the central system. The
queue is kept in the state file and sent in order once the station is accepted again
(A04.FR.02: guaranteed delivery; the white paper asks it of critical events, the simulator
gives it to all, so that the central system also hears of a refused connection once it has
reconnected). An event the central system answers with a CALLERROR is dropped (a central
system without the extension would refuse it forever); a timeout keeps it for later.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import msgspec
from msgspec import UNSET

from ocppd.chargepoint.clock import Clock
from ocppd.protocol.errors import OCPPError
from ocppd.protocol.security import CRITICAL_SECURITY_EVENTS, SecurityEventNotificationRequest
from ocppd.rpc.session import CallTimeout, SessionClosed

LOG_LENGTH = 1000
RETRY_SECONDS = 30
"""Simulated seconds before an event whose call timed out is sent again."""


class SecurityEvent(msgspec.Struct, omit_defaults=True):
    type: str
    timestamp: datetime
    tech_info: str | None = None

    @property
    def critical(self) -> bool:
        return self.type in CRITICAL_SECURITY_EVENTS


class SecurityEvents:
    def __init__(self, clock: Clock, on_change: Callable[[], None], queued: bool) -> None:
        self.clock = clock
        self.on_change = on_change
        self.queued = queued
        """Whether events go to the central system (the extension is on): else logged only."""
        self.log: list[SecurityEvent] = []
        self.pending: list[SecurityEvent] = []
        """Recorded, not yet acknowledged by the central system, oldest first."""
        self._arrived = asyncio.Event()
        self._answered = asyncio.Event()
        """Set while nothing is pending: every recorded event answered."""
        self._answered.set()

    def record(self, kind: str, tech_info: str | None = None) -> SecurityEvent:
        info = None if tech_info is None else tech_info[:255]
        event = SecurityEvent(kind, self.clock.now(), info)
        self.log.append(event)
        del self.log[:-LOG_LENGTH]
        if self.queued:
            self.pending.append(event)
            self._arrived.set()
            self._answered.clear()
        self.on_change()
        return event

    def restore(self, log: list[SecurityEvent], pending: list[SecurityEvent]) -> None:
        self.log = list(log)
        self.pending = list(pending)
        if self.pending:
            self._answered.clear()

    def types(self) -> list[str]:
        """The types in the log, oldest first (for tests and the summary)."""
        return [event.type for event in self.log]

    async def drain(self) -> None:
        """Return when every recorded event was answered (a soft reset waits for it)."""
        await self._answered.wait()

    async def deliver(self, call: Callable[[Any], Awaitable[Any]]) -> None:
        """Send the queue, then each new event, while the connection lasts."""
        while True:
            while self.pending:
                event = self.pending[0]
                request = SecurityEventNotificationRequest(
                    type=event.type,
                    timestamp=event.timestamp,
                    tech_info=UNSET if event.tech_info is None else event.tech_info,
                )
                try:
                    await call(request)
                except SessionClosed:
                    return  # kept for the next connection
                except CallTimeout:
                    await self.clock.sleep(RETRY_SECONDS)
                    continue
                except OCPPError:
                    pass  # refused: counted by the station, never deliverable
                if self.pending and self.pending[0] is event:
                    self.pending.pop(0)
                    self.on_change()
                if not self.pending:
                    self._answered.set()
            self._arrived.clear()
            await self._arrived.wait()
