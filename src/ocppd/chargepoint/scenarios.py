"""Built-in scenarios: what the driver of a station does, step by step, until cancelled.

A scenario is a coroutine function taking a station; it runs until it is cancelled (the
end of the run). Durations are in the station's simulated seconds.
"""

from collections.abc import Awaitable, Callable

from ocppd.chargepoint.station import Station

Scenario = Callable[[Station], Awaitable[None]]

CHARGE_SECONDS = 20 * 60
"""How long the EV of `charge-session` charges before the driver stops."""
PAUSE_SECONDS = 5 * 60
"""Between two sessions of `charge-session`, the connector stays free."""


async def idle(station: Station) -> None:
    """Boot and stay connected: heartbeats, and answers to whatever the CS asks."""
    await station.wait_accepted(timeout=None)
    while True:
        await station.clock.sleep(3600)


async def charge_session(station: Station) -> None:
    """Sessions on connector 1, one after the other: plug in, present a tag, charge,
    stop, unplug, pause."""
    tag = f"TAG-{station.identity}"[:20]
    await station.wait_accepted(timeout=None)
    while True:
        await station.plug_in(1)
        transaction = await station.start_transaction(1, tag)
        if transaction is not None:
            await station.clock.sleep(CHARGE_SECONDS)
            await station.stop_transaction(1, id_tag=None)
        await station.unplug(1)
        await station.clock.sleep(PAUSE_SECONDS)


SCENARIOS: dict[str, Scenario] = {"idle": idle, "charge-session": charge_session}
