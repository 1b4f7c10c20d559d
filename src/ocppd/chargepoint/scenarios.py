"""Scenarios: what the driver of a station does, step by step, until cancelled.

A scenario is a coroutine function taking a station; it runs until it is cancelled (the
end of the run) or until its steps are done. Durations are in the station's simulated
seconds, so `--speed 60` runs a 20-minute session in 20 seconds.

Built-ins: `idle`, `charge-session`, `offline-session`, `fault-and-recover`, `load`. A user
scenario is a TOML file of steps (`load_scenario`):

    repeat = true            # run the steps again and again (default: once)
    connector = 1            # the default connector of the steps
    tag = "TAG-{identity}"   # the default tag ({identity} = the station's)

    [configuration]          # set on the station before it boots
    MeterValueSampleInterval = "60"

    [[steps]]
    do = "plug-in"
    [[steps]]
    do = "authorize"         # present the tag: the transaction starts (once plugged in)
    [[steps]]
    do = "charge"            # the EV draws up to `kw` for the time given
    minutes = 20
    kw = 11
    [[steps]]
    do = "offline"           # the connection is lost, queued messages follow on return
    minutes = 2
    [[steps]]
    do = "stop"
    [[steps]]
    do = "unplug"
    [[steps]]
    do = "wait"
    minutes = 5

Other steps: `suspend` / `resume` (the EV stops drawing), `fault` (with `error`, an OCPP
ChargePointErrorCode, default OtherError) / `clear-fault`. Every duration is `minutes`
and/or `seconds`; every step may name its `connector` and `tag`.
"""

import asyncio
import tomllib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import msgspec

from ocppd.chargepoint.station import Station
from ocppd.protocol.enums import ChargePointErrorCode, Reason

Scenario = Callable[[Station], Awaitable[None]]

CHARGE_SECONDS = 20 * 60
"""How long the EV of `charge-session` charges before the driver stops."""
PAUSE_SECONDS = 5 * 60
"""Between two sessions of `charge-session`, the connector stays free."""
OFFLINE_SECONDS = 2 * 60
"""How long `offline-session` stays away, in the middle of its session."""
FAULT_SECONDS = 3 * 60
"""How long the fault of `fault-and-recover` lasts."""
LOAD_SAMPLE_INTERVAL = 10
"""`load`: MeterValues every 10 simulated seconds on every connector, all charging."""


def tag_of(station: Station) -> str:
    return f"TAG-{station.identity}"[:20]


async def idle(station: Station) -> None:
    """Boot and stay connected: heartbeats, and answers to whatever the CS asks."""
    await station.wait_accepted(timeout=None)
    while True:
        await station.clock.sleep(3600)


async def charge_session(station: Station) -> None:
    """Sessions on connector 1, one after the other: plug in, present a tag, charge,
    stop, unplug, pause."""
    tag = tag_of(station)
    await station.wait_accepted(timeout=None)
    while True:
        await station.plug_in(1)
        transaction = await station.start_transaction(1, tag)
        if transaction is not None:
            await station.clock.sleep(CHARGE_SECONDS)
            await station.stop_transaction(1, id_tag=None)
        await station.unplug(1)
        await station.clock.sleep(PAUSE_SECONDS)


async def offline_session(station: Station) -> None:
    """Sessions during which the connection is lost: plug in, start, charge, go offline
    (the station goes on charging and queues its messages), stop while offline, unplug,
    come back and deliver the queue in order."""
    tag = tag_of(station)
    await station.wait_accepted(timeout=None)
    while True:
        await station.plug_in(1)
        transaction = await station.start_transaction(1, tag)
        await station.clock.sleep(CHARGE_SECONDS / 2)
        station.go_offline()
        await station.clock.sleep(OFFLINE_SECONDS)
        if transaction is not None:
            await station.stop_transaction(1)  # queued
        await station.unplug(1)
        station.go_online()
        await station.wait_accepted(timeout=None)
        await station.clock.sleep(PAUSE_SECONDS)


async def fault_and_recover(station: Station) -> None:
    """A session ended by a fault: charge, GroundFailure on the connector (the transaction
    stops, reason Other), the fault clears, the driver unplugs."""
    tag = tag_of(station)
    await station.wait_accepted(timeout=None)
    while True:
        await station.plug_in(1)
        await station.start_transaction(1, tag)
        await station.clock.sleep(CHARGE_SECONDS / 4)
        await station.set_fault(1, ChargePointErrorCode.GROUND_FAILURE)
        await station.clock.sleep(FAULT_SECONDS)
        await station.set_fault(1, None)
        await station.unplug(1)
        await station.clock.sleep(PAUSE_SECONDS)


async def load(station: Station) -> None:
    """As many messages as a station sends in normal use, all at once: every connector
    charges without pause, MeterValues every 10 simulated seconds with several measurands."""
    station.configuration.set("MeterValueSampleInterval", str(LOAD_SAMPLE_INTERVAL))
    station.configuration.set(
        "MeterValuesSampledData",
        "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage",
    )
    await station.wait_accepted(timeout=None)

    async def sessions(connector_id: int) -> None:
        tag = f"T{connector_id}-{station.identity}"[:20]
        while True:
            await station.plug_in(connector_id)
            if await station.start_transaction(connector_id, tag) is not None:
                await station.clock.sleep(CHARGE_SECONDS)
                await station.stop_transaction(connector_id)
            await station.unplug(connector_id)
            await station.clock.sleep(LOAD_SAMPLE_INTERVAL)

    await asyncio.gather(*(sessions(n) for n in station.connectors))


SCENARIOS: dict[str, Scenario] = {
    "idle": idle,
    "charge-session": charge_session,
    "offline-session": offline_session,
    "fault-and-recover": fault_and_recover,
    "load": load,
}


# Scenario files

NonNegative = Annotated[float, msgspec.Meta(ge=0)]


class _Step(msgspec.Struct, tag_field="do", forbid_unknown_fields=True, kw_only=True):
    connector: int | None = None
    tag: str | None = None


class _Timed(_Step, kw_only=True):
    minutes: NonNegative = 0
    seconds: NonNegative = 0

    @property
    def duration(self) -> float:
        return self.minutes * 60 + self.seconds


class PlugIn(_Step, tag="plug-in"):
    pass


class Unplug(_Step, tag="unplug"):
    pass


class Authorize(_Step, tag="authorize"):
    pass


class Charge(_Timed, tag="charge"):
    kw: Annotated[float, msgspec.Meta(gt=0)] | None = None


class Stop(_Step, tag="stop"):
    pass


class Wait(_Timed, tag="wait"):
    pass


class Offline(_Timed, tag="offline"):
    pass


class Suspend(_Step, tag="suspend"):
    pass


class Resume(_Step, tag="resume"):
    pass


class Fault(_Step, tag="fault"):
    error: ChargePointErrorCode = ChargePointErrorCode.OTHER_ERROR


class ClearFault(_Step, tag="clear-fault"):
    pass


Step = (
    PlugIn | Unplug | Authorize | Charge | Stop | Wait | Offline | Suspend | Resume | Fault
) | ClearFault


class ScenarioFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    steps: list[Step]
    repeat: bool = False
    connector: int = 1
    tag: str = "TAG-{identity}"
    configuration: dict[str, str] = {}


def load_scenario(path: Path | str) -> Scenario:
    """The scenario of a TOML file (see the module's documentation). ValueError when the
    file cannot be read or a step is not understood."""
    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
        spec = msgspec.convert(document, ScenarioFile)
    except (OSError, tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    if not spec.steps:
        raise ValueError(f"{path}: no steps")
    return FileScenario(spec)


class FileScenario:
    def __init__(self, spec: ScenarioFile) -> None:
        self.spec = spec

    async def __call__(self, station: Station) -> None:
        for key, value in self.spec.configuration.items():
            station.configuration.set(key, str(value))
        await station.wait_accepted(timeout=None)
        while True:
            for step in self.spec.steps:
                await self.run(station, step)
            if not self.spec.repeat:
                return

    async def run(self, station: Station, step: Step) -> None:
        n = step.connector if step.connector is not None else self.spec.connector
        tag = (step.tag or self.spec.tag).format(identity=station.identity)[:20]
        match step:
            case PlugIn():
                await station.plug_in(n)
            case Unplug():
                await station.unplug(n)
            case Authorize():
                await station.start_transaction(n, tag)
            case Charge():
                meter = station.connector(n).meter
                meter.ev_max_power_w = None if step.kw is None else step.kw * 1000
                station.apply_power(station.connector(n))
                station.changed(station.connector(n))
                await station.report()
                await station.clock.sleep(step.duration)
            case Stop():
                await station.stop_transaction(n, Reason.LOCAL, step.tag)
            case Wait():
                await station.clock.sleep(step.duration)
            case Offline():
                station.go_offline()
                await station.clock.sleep(step.duration)
                station.go_online()
            case Suspend():
                await station.suspend(n)
            case Resume():
                await station.resume(n)
            case Fault():
                await station.set_fault(n, step.error)
            case ClearFault():
                await station.set_fault(n, None)


def scenario_named(name: str) -> Scenario:
    """A built-in by name, or the scenario of a TOML file by path."""
    if name in SCENARIOS:
        return SCENARIOS[name]
    if name.endswith(".toml"):
        return load_scenario(name)
    raise ValueError(f"No scenario {name!r}: one of {', '.join(SCENARIOS)}, or a .toml file")
