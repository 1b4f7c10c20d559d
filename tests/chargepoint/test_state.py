"""The state file: a station killed and started again keeps what a charger keeps in flash,
and loses nothing it had queued (issue 5)."""

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from ocpp.v16 import call

from ocppd.chargepoint import Clock, Station
from ocppd.chargepoint.state import load, state_path
from ocppd.protocol.enums import ChargePointStatus
from tests.chargepoint.central import FAST, CentralSystem
from tests.chargepoint.test_simulate_command import simulate


def station(url: str, state_dir: Path, **options: object) -> Station:
    return Station(url, "CP 1", clock=Clock(speed=FAST), state_dir=state_dir, **options)  # type: ignore[arg-type]


async def test_a_killed_station_keeps_its_state_and_loses_nothing_queued(tmp_path: Path) -> None:
    async with CentralSystem() as central:
        first = station(central.url, tmp_path)
        await first.boot()
        cs = await central.station("CP 1")
        # What the central system gave the station.
        for key, value in (("MeterValueSampleInterval", "10"), ("LightIntensity", "17")):
            answer = await cs.call(call.ChangeConfiguration(key=key, value=value))
            assert answer.status == "Accepted"
        entry = {"id_tag": "LOCAL1", "id_tag_info": {"status": "Accepted"}}
        answer = await cs.call(
            call.SendLocalList(list_version=7, update_type="Full", local_authorization_list=[entry])
        )
        assert answer.status == "Accepted"
        answer = await cs.call(call.ChangeAvailability(connector_id=2, type="Inoperative"))
        assert answer.status == "Accepted"

        # A session while offline: everything of it is queued.
        first.go_offline()
        await first.plug_in(1)
        assert await first.start_transaction(1, "LOCAL1") is not None  # the local list
        await first.clock.sleep(35)
        await first.stop_transaction(1)
        queued = [message.build() for message in first.transaction_messages.messages()]
        assert type(queued[0]).__name__ == "StartTransactionRequest"
        assert len(queued) >= 4
        await first.stop(save=False)  # killed: only what was on disk survives

        on_disk = load(state_path(tmp_path, "CP 1"))
        assert on_disk is not None
        second = station(central.url, tmp_path)
        assert second.clock.now() >= on_disk.saved_at  # a fast clock does not go back
        assert [message.build() for message in second.transaction_messages.messages()] == queued
        assert second.configuration.get_int("LightIntensity") == 17
        assert second.configuration.get_int("MeterValueSampleInterval") == 10
        assert second.authorizations.local_list.version == 7
        assert second.connector(2).status == ChargePointStatus.UNAVAILABLE
        async with second:
            await second.boot()
            await cs.log.wait_for("StopTransaction")
            await second.transaction_messages.drain()  # the answer is in: off the queue

        starts = cs.log.calls("StartTransaction")
        assert len(starts) == 1 and starts[0]["id_tag"] == "LOCAL1"
        stop = cs.log.calls("StopTransaction")[0]
        samples = cs.log.calls("MeterValues")
        assert len(samples) == len(queued) - 2
        # The id the CS gave the start, after the restart, is in every later message.
        given = stop["transaction_id"]
        assert given >= 100
        assert all(sample["transaction_id"] == given for sample in samples)
        actions = [a for a, _ in cs.log.received if a in ("StartTransaction", "StopTransaction")]
        assert actions == ["StartTransaction", "StopTransaction"]
        assert len(second.transaction_messages) == 0
        saved = load(state_path(tmp_path, "CP 1"))
        assert saved is not None and saved.queue == []


async def test_a_transaction_running_at_a_kill_is_stopped_for_power_loss(tmp_path: Path) -> None:
    async with CentralSystem() as central:
        first = station(central.url, tmp_path)
        await first.boot()
        cs = await central.station("CP 1")
        await first.plug_in(1)
        transaction = await first.start_transaction(1, "TAG1")
        assert transaction is not None and transaction.transaction_id is not None
        await first.clock.sleep(600)
        first.save()  # a charger writes its meter to flash now and then
        energy = first.connector(1).meter.energy_wh
        assert energy > 0
        await first.stop(save=False)

        async with station(central.url, tmp_path) as second:
            assert second.connector(1).status == ChargePointStatus.AVAILABLE
            await second.boot()
            stop = (await cs.log.wait_for("StopTransaction"))[0]
        assert stop["transaction_id"] == transaction.transaction_id
        assert stop["reason"] == "PowerLoss"
        assert stop["meter_stop"] == energy
        # The register does not go back after a restart.
        assert second.connector(1).meter.energy_wh >= energy


async def test_the_state_file_is_json_written_atomically(tmp_path: Path) -> None:
    async with CentralSystem() as central:
        first = station(central.url, tmp_path)
        first.configuration.change("LightIntensity", "5")
        first.dirty()
        await first.stop()  # a clean stop writes what is pending
        path = state_path(tmp_path, "CP 1")
        assert path.name == "CP%201.json"
        document = json.loads(path.read_text())
        assert document["identity"] == "CP 1"
        assert document["configuration"]["LightIntensity"] == "5"
        assert os.listdir(tmp_path) == [path.name]  # no temporary left
        path.write_text("{not json")
        with pytest.raises(ValueError, match="not a station state file"):
            station(central.url, tmp_path)


KILLED_SESSION = """
[configuration]
MeterValueSampleInterval = "60"

[[steps]]
do = "plug-in"

[[steps]]
do = "authorize"

[[steps]]
do = "offline"
minutes = 600
"""


@pytest.mark.slow
async def test_ocppd_simulate_killed_with_sigkill_loses_nothing_queued(tmp_path: Path) -> None:
    scenario = tmp_path / "session.toml"
    scenario.write_text(KILLED_SESSION)
    state_dir = tmp_path / "state"
    async with CentralSystem() as central:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ocppd", "simulate", "--url", central.url, "--id", "KILLED",
            "--scenario", str(scenario), "--speed", "1000", "--state-dir", str(state_dir),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        cs = await central.station("KILLED", timeout=10)
        start = (await cs.log.wait_for("StartTransaction", timeout=10))[0]
        await asyncio.sleep(1.5)  # offline: MeterValues queue up, each written at once
        process.kill()  # SIGKILL: nothing is flushed on the way out
        await process.wait()
        saved = load(state_path(state_dir, "KILLED"))
        assert saved is not None
        queued = [message.action for message in saved.queue]
        assert len(queued) >= 10 and set(queued) == {"MeterValues"}
        assert cs.log.calls("MeterValues") == []  # nothing of it reached the CS

        code, _, err = await simulate(
            "--url", central.url, "--id", "KILLED", "--state-dir", str(state_dir),
            "--duration", "2", "--speed", "1000",
        )  # fmt: skip
        assert code == 0, err
        samples = cs.log.calls("MeterValues")
        assert len(samples) >= len(queued)
        transaction_id = (await cs.log.wait_for("StopTransaction"))[0]["transaction_id"]
        assert {s["transaction_id"] for s in samples[: len(queued)]} == {transaction_id}
        assert cs.log.calls("StopTransaction")[0]["reason"] == "PowerLoss"
        assert len(cs.log.calls("StartTransaction")) == 1
        assert start["id_tag"] == "TAG-KILLED"
