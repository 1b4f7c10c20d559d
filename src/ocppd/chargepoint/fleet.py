"""A fleet: many stations in one process, each its own session, running one scenario.

`Fleet.run` returns when the duration is over or `stop` is called (Ctrl-C); stations then
stop the transactions they run, let the stops out for a moment, and disconnect.
"""

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocppd.chargepoint.clock import Clock
from ocppd.chargepoint.files import TransferOptions
from ocppd.chargepoint.quirks import Quirk
from ocppd.chargepoint.scenarios import Scenario
from ocppd.chargepoint.security import SecuritySettings
from ocppd.chargepoint.station import ChargerModel, Station
from ocppd.chargepoint.stats import Stats
from ocppd.protocol.enums import Reason
from ocppd.transport.client import ClientOptions

FAREWELL_SECONDS = 2.0
"""Real seconds the stations get at the end to deliver their last StopTransactions."""


def identities(count: int, identity: str, pattern: str | None) -> list[str]:
    """`count` identities: `identity` alone, or `pattern` formatted with n = 1..count
    (and `id` = identity), e.g. `CP{n:04d}`."""
    if count == 1 and pattern is None:
        return [identity]
    template = pattern if pattern is not None else identity + "-{n}"
    names = [template.format(n=n, id=identity) for n in range(1, count + 1)]
    if len(set(names)) != len(names):
        raise ValueError(f"The pattern {template!r} does not give {count} distinct identities")
    return names


@dataclass
class Fleet:
    url: str
    names: list[str]
    scenario: Scenario
    model: ChargerModel = field(default_factory=ChargerModel)
    client_options: ClientOptions = field(default_factory=ClientOptions)
    speed: float = 1.0
    state_dir: Path | None = None
    quirks: frozenset[Quirk] = frozenset()
    file_transfer: TransferOptions = field(default_factory=TransferOptions)
    """Each station keeps its state file there (`<identity>.json`) across runs."""
    security: SecuritySettings = field(default_factory=SecuritySettings)
    stations: list[Station] = field(init=False)

    def __post_init__(self) -> None:
        self.stations = [
            Station(
                self.url,
                name,
                model=self.model,
                clock=Clock(speed=self.speed),
                client_options=self.client_options,
                state_dir=self.state_dir,
                quirks=self.quirks,
                file_transfer=self.file_transfer,
                security=self.security,
            )
            for name in self.names
        ]
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self, duration: float | None = None) -> Stats:
        """Run the scenario on every station for `duration` real seconds (None = until
        `stop`); the stations' stats merged."""
        drivers = [asyncio.create_task(self._drive(station)) for station in self.stations]
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), duration)
        finally:
            for driver in drivers:
                driver.cancel()
            await asyncio.gather(*drivers, return_exceptions=True)
            await self._farewell()
        return self.stats()

    async def _drive(self, station: Station) -> None:
        station.start()
        await self.scenario(station)

    async def _farewell(self) -> None:
        async def leave(station: Station) -> None:
            for connector in station.connectors.values():
                if connector.transaction is not None:
                    station.end_transaction(connector, Reason.LOCAL)
            if station.online and len(station.transaction_messages):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(station.transaction_messages.drain(), FAREWELL_SECONDS)
            await station.stop()

        await asyncio.gather(*(leave(station) for station in self.stations))

    def stats(self) -> Stats:
        total = Stats()
        for station in self.stations:
            total.merge(station.stats)
        return total

    def summary(self) -> dict[str, Any]:
        accepted = [s for s in self.stations if s.last_boot and s.last_boot.status == "Accepted"]
        return {
            "stations": len(self.stations),
            "accepted": len(accepted),
            **self.stats().summary(),
        }
