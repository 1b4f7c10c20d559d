"""A charge session seen from the central system: what it received, with which values."""

import itertools
from datetime import datetime
from typing import Any

from ocppd.chargepoint import ChargerModel
from tests.chargepoint.central import BLOCKED_TAG, NO_UTC_TAG, running

SAMPLED = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC"


def statuses(cs: Any, connector_id: int) -> list[str]:
    return [
        s["status"] for s in cs.calls("StatusNotification") if s["connector_id"] == connector_id
    ]


def readings(meter_value: dict[str, Any]) -> dict[tuple[str, str | None], str]:
    return {
        (value["measurand"], value.get("phase")): value["value"]
        for value in meter_value["sampled_value"]
    }


async def test_a_charge_session_from_plug_in_to_unplug() -> None:
    model = ChargerModel(connectors=1, max_power_w=11_000)
    configuration = {"MeterValueSampleInterval": "60", "MeterValuesSampledData": SAMPLED}
    async with running(model=model, configuration=configuration) as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        await station.plug_in(1)
        transaction = await station.start_transaction(1, "TAG1")
        assert transaction is not None and transaction.transaction_id == 100
        samples = await cs.wait_for("MeterValues", count=3)
        answer = await station.stop_transaction(1)
        assert answer is not None
        await station.unplug(1)

        assert cs.calls("Authorize") == [{"id_tag": "TAG1"}]
        start = cs.calls("StartTransaction")[0]
        assert (start["connector_id"], start["id_tag"], start["meter_start"]) == (1, "TAG1", 0)

        energies = []
        for sample in samples:
            assert sample["connector_id"] == 1 and sample["transaction_id"] == 100
            values = readings(sample["meter_value"][0])
            assert values[("Power.Active.Import", None)] == "11000.0"
            assert values[("Current.Import", "L1")] == "15.9"  # 11 kW / (3 x 230 V)
            assert values[("Voltage", "L3-N")] == "230.0"
            assert 30 < float(values[("SoC", None)]) < 100
            energies.append(int(values[("Energy.Active.Import.Register", None)]))
        # 11 kW for at least 60 s between samples: at least 183 Wh each time.
        assert energies[0] >= 183
        assert all(b - a >= 183 for a, b in itertools.pairwise(energies))

        stop = cs.calls("StopTransaction")[0]
        assert stop["transaction_id"] == 100 and stop["reason"] == "Local"
        assert stop["meter_stop"] >= energies[-1]
        contexts = [mv["sampled_value"][0]["context"] for mv in stop["transaction_data"]]
        assert contexts[0] == "Transaction.Begin" and contexts[-1] == "Transaction.End"
        assert statuses(cs, 1) == ["Available", "Preparing", "Charging", "Finishing", "Available"]


async def test_tag_before_plug_starts_on_plug_in() -> None:
    async with running() as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        assert await station.start_transaction(2, "TAG2") is None
        transaction = await station.plug_in(2)
        assert transaction is not None and transaction.id_tag == "TAG2"
        await cs.wait_for("StartTransaction")
        assert statuses(cs, 2) == ["Available", "Preparing", "Charging"]


async def test_a_refused_tag_starts_nothing() -> None:
    async with running() as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        await station.plug_in(1)
        assert await station.start_transaction(1, BLOCKED_TAG) is None
        assert cs.calls("StartTransaction") == []
        assert station.connector(1).status == "Preparing"


async def test_an_answer_with_a_date_without_a_utc_time_is_an_invalid_answer() -> None:
    """The central system's Authorize answer has an expiryDate no datetime holds in UTC: the
    station refuses the answer (counted), decides as when offline (an unknown tag: no
    charge), keeps nothing of it, and goes on."""
    async with running() as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        await station.plug_in(1)
        assert await station.start_transaction(1, NO_UTC_TAG) is None
        assert cs.calls("Authorize") == [{"id_tag": NO_UTC_TAG}]
        assert station.stats.errors["Invalid Authorize PropertyConstraintViolation"] == 1
        assert (
            station.authorizations.known(NO_UTC_TAG, station.clock.now(), station.configuration)
            is None
        )
        assert cs.calls("StartTransaction") == []
        transaction = await station.start_transaction(1, "TAG1")
        assert transaction is not None and transaction.transaction_id == 100
        assert statuses(cs, 1) == ["Available", "Preparing", "Charging"]


async def test_unplugging_stops_the_transaction_when_configured() -> None:
    async with running() as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        await station.plug_in(1)
        await station.start_transaction(1, "TAG1")
        await station.unplug(1)
        stop = (await cs.wait_for("StopTransaction"))[0]
        assert stop["reason"] == "EVDisconnected"
        assert statuses(cs, 1)[-2:] == ["Charging", "Available"]


async def test_a_second_session_after_finishing_passes_through_preparing() -> None:
    async with running() as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        await station.plug_in(1)
        await station.start_transaction(1, "TAG1")
        await station.stop_transaction(1)
        second = await station.start_transaction(1, "TAG1")
        assert second is not None
        assert statuses(cs, 1) == [
            "Available",
            "Preparing",
            "Charging",
            "Finishing",
            "Preparing",
            "Charging",
        ]
        starts = cs.calls("StartTransaction")
        assert starts[1]["meter_start"] >= starts[0]["meter_start"]  # one register, rising


async def test_clock_aligned_meter_values_for_every_connector() -> None:
    configuration = {"ClockAlignedDataInterval": "60", "MeterValueSampleInterval": "0"}
    async with running(configuration=configuration) as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        await station.plug_in(2)
        transaction = await station.start_transaction(2, "TAG2")
        assert transaction is not None

        def aligned(connector_id: int) -> Any:
            def matches(payload: dict[str, Any]) -> bool:
                sampled = payload["meter_value"][0]["sampled_value"][0]
                return (
                    payload["connector_id"] == connector_id and sampled["context"] == "Sample.Clock"
                )

            return matches

        idle = (await cs.wait_for("MeterValues", where=aligned(1)))[0]
        assert "transaction_id" not in idle
        # The first aligned reading of connector 2 may precede the transaction.
        charging = (
            await cs.wait_for(
                "MeterValues", where=lambda p: aligned(2)(p) and "transaction_id" in p
            )
        )[0]
        assert charging["transaction_id"] == transaction.transaction_id
        stamp = datetime.fromisoformat(charging["meter_value"][0]["timestamp"])
        assert (stamp.second, stamp.microsecond) == (0, 0)  # on the minute
        # Connector 0, the main meter: what both connectors drew, without a transaction.
        main = (await cs.wait_for("MeterValues", where=aligned(0)))[0]
        assert "transaction_id" not in main
        [register] = [int(v["value"]) for v in main["meter_value"][0]["sampled_value"]]
        assert 0 <= register <= sum(c.meter.energy_wh for c in station.connectors.values())
