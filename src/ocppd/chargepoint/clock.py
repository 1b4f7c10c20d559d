"""Simulated time: the station's wall clock and its timers, injectable so tests run fast.

A station never calls `datetime.now` or `asyncio.sleep` directly. `Clock(speed=600)` runs an
hour of charging in six seconds; the CS sees timestamps of simulated time, consistent with
the intervals the station keeps.
"""

import asyncio
import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time that may run `speed` times faster than real time, and be set."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._origin = start if start is not None else datetime.now(UTC)
        self._real_origin = time.monotonic()

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._real_origin) * self.speed
        return self._origin + timedelta(seconds=elapsed)

    def set(self, now: datetime) -> None:
        """Take the central system's time (BootNotification and Heartbeat carry it)."""
        self._origin = now
        self._real_origin = time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of simulated time."""
        await asyncio.sleep(max(seconds, 0) / self.speed)

    def real_seconds(self, seconds: float) -> float:
        """How long `seconds` of simulated time last in real time (for real timeouts)."""
        return seconds / self.speed
