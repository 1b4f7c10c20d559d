"""The built-in scenarios and scenario files, end to end against the test central system."""

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ocppd.chargepoint.fleet import Fleet
from ocppd.chargepoint.scenarios import SCENARIOS, Scenario, load_scenario, scenario_named
from ocppd.chargepoint.station import ChargerModel
from tests.chargepoint.central import CallLog, CentralSystem
from tests.chargepoint.test_simulate_command import simulate

SPEED = 2000.0


async def run(scenario: Scenario, seconds: float, **fleet: Any) -> tuple[CentralSystem, Fleet]:
    async with CentralSystem(interval=300) as central:
        running = Fleet(central.url, ["CP1"], scenario, speed=SPEED, **fleet)
        await running.run(seconds)
    return central, running


def _when(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def sessions(log: CallLog) -> list[tuple[str, dict[str, Any]]]:
    return [(a, p) for a, p in log.received if a in ("StartTransaction", "StopTransaction")]


def statuses(log: CallLog, connector_id: int) -> list[str]:
    return [
        p["status"] for p in log.calls("StatusNotification") if p["connector_id"] == connector_id
    ]


def test_every_built_in_has_a_name() -> None:
    assert sorted(SCENARIOS) == [
        "charge-session",
        "fault-and-recover",
        "idle",
        "load",
        "offline-session",
    ]
    assert scenario_named("load") is SCENARIOS["load"]
    with pytest.raises(ValueError, match="No scenario 'nope'"):
        scenario_named("nope")


async def test_offline_session_delivers_what_was_queued_after_reconnecting() -> None:
    central, fleet = await run(SCENARIOS["offline-session"], 1.5)
    log = central.logs["CP1"]
    assert len(log.calls("BootNotification")) == 1  # reconnects are not boots
    assert central.connections >= 2
    pairs = sessions(log)
    assert len(pairs) >= 2
    starts = {p["transaction_id"] for a, p in pairs if a == "StopTransaction"}
    assert starts <= set(range(100, 200))  # every stop carries the id its start got
    first_stop = next(p for a, p in pairs if a == "StopTransaction")
    assert first_stop["reason"] == "Local"
    assert fleet.stations[0].transaction_messages.discarded == 0


async def test_fault_and_recover_stops_the_transaction() -> None:
    central, _ = await run(SCENARIOS["fault-and-recover"], 1.0)
    log = central.logs["CP1"]
    stop = log.calls("StopTransaction")[0]
    assert stop["reason"] == "Other"
    assert statuses(log, 1)[:5] == ["Available", "Preparing", "Charging", "Faulted", "Finishing"]
    faulted = [p for p in log.calls("StatusNotification") if p["status"] == "Faulted"]
    assert faulted[0]["error_code"] == "GroundFailure"
    assert "Available" in statuses(log, 1)[4:]


async def test_load_keeps_every_connector_charging_and_sampling() -> None:
    central, fleet = await run(SCENARIOS["load"], 1.0, model=ChargerModel(connectors=3))
    samples = central.logs["CP1"].calls("MeterValues")
    per_connector = {n: [s for s in samples if s["connector_id"] == n] for n in (1, 2, 3)}
    assert all(len(values) >= 20 for values in per_connector.values())
    measurands = {v.get("measurand") for v in samples[0]["meter_value"][0]["sampled_value"]}
    assert measurands == {
        "Energy.Active.Import.Register",
        "Power.Active.Import",
        "Current.Import",
        "Voltage",
    }
    assert fleet.stats().errors == {}


SESSION = """
tag = "RFID-{identity}"

[configuration]
MeterValueSampleInterval = "60"

[[steps]]
do = "plug-in"

[[steps]]
do = "authorize"

[[steps]]
do = "charge"
minutes = 10
kw = 7.4

[[steps]]
do = "offline"
minutes = 2

[[steps]]
do = "stop"

[[steps]]
do = "unplug"
"""


async def test_a_scenario_file_runs_its_steps_once(tmp_path: Path) -> None:
    path = tmp_path / "session.toml"
    path.write_text(SESSION)
    central, _ = await run(load_scenario(path), 1.0)
    log = central.logs["CP1"]
    pairs = sessions(log)
    assert [a for a, _ in pairs] == ["StartTransaction", "StopTransaction"]  # once
    start, stop = pairs[0][1], pairs[1][1]
    assert start["id_tag"] == "RFID-CP1"
    # At least 7.4 kW from start to stop (it goes on charging while offline): 10 + 2 minutes,
    # plus what the scheduler adds at 2000x speed, so the energy is checked against the
    # simulated times. Until the `charge` step caps it at 7.4 kW the EV draws what the charger
    # offers (22 kW): for as long as the StartTransaction round trip takes, which on a loaded
    # machine is minutes of simulated time. Hence a floor, and the charger's maximum as the top.
    energy = stop["meter_stop"] - start["meter_start"]
    hours = (_when(stop["timestamp"]) - _when(start["timestamp"])).total_seconds() / 3600
    assert 12 / 60 <= hours <= 16 / 60
    assert 7400 * hours * 0.98 <= energy <= 22_080 * hours
    powers = [
        v["value"]
        for s in log.calls("MeterValues")
        for v in s["meter_value"][0]["sampled_value"]
        if v.get("measurand") == "Power.Active.Import"
    ]
    assert powers and set(powers) == {"7400.0"}
    assert central.connections == 2
    assert statuses(log, 1)[-1] == "Available"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('[[steps]]\ndo = "fly"\n', "fly"),
        ('[[steps]]\ndo = "wait"\nhours = 2\n', "hours"),
        ('[[steps]]\ndo = "fault"\nerror = "Broken"\n', "Broken"),
        ("steps = []\n", "no steps"),
        ("steps = [\n", "Invalid value"),
    ],
)
def test_a_bad_scenario_file_is_refused(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=complaint):
        load_scenario(path)


async def test_simulate_runs_a_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "session.toml"
    path.write_text(SESSION)
    async with CentralSystem() as central:
        code, out, err = await simulate(
            "--url", central.url, "--scenario", str(path), "--speed", "2000",
            "--duration", "1", "--json",
        )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["sent"]["StartTransaction"] == summary["sent"]["StopTransaction"] == 1
    code, _, err = await simulate("--url", central.url, "--scenario", "nope")
    assert code == 2 and "No scenario 'nope'" in err
