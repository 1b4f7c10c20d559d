"""Transaction messages while offline and on failure (section 5): kept, in order, retried."""

import pytest

from ocppd.protocol.errors import CallErrorReceived
from tests.chargepoint.central import running


async def test_messages_of_an_offline_period_arrive_in_order_after_reconnecting() -> None:
    configuration = {"MeterValueSampleInterval": "10"}
    async with running(configuration=configuration) as (central, station):
        await station.boot()
        cs = await central.station("CP1")
        await station.plug_in(1)
        transaction = await station.start_transaction(1, "TAG1")
        assert transaction is not None
        station.go_offline()
        # Five samples queued: each comes MeterValueSampleInterval after the last one was
        # taken, so on a busy machine 50 simulated seconds may hold fewer; wait for them.
        while len(station.transaction_messages) < 5:
            await station.clock.sleep(10)
        assert await station.stop_transaction(1) is None  # queued, not delivered
        await station.unplug(1)
        queued = len(station.transaction_messages)
        assert queued >= 6
        seen_before = len(cs.log.received)

        station.go_online()
        await cs.log.wait_for("StopTransaction")
        await central.wait_connections(2)
        after = [action for action, _ in cs.log.received[seen_before:]]
        assert "BootNotification" not in after  # a plain reconnect: no boot
        transaction_messages = [a for a in after if a in ("MeterValues", "StopTransaction")]
        assert transaction_messages[-1] == "StopTransaction"
        assert len(transaction_messages) >= queued
        # Back online, only the current state of the connector: Available.
        await cs.log.wait_for(
            "StatusNotification",
            where=lambda s: s["connector_id"] == 1 and s["status"] == "Available",
        )
        offline_statuses = [
            p for a, p in cs.log.received[seen_before:] if a == "StatusNotification"
        ]
        assert [(s["connector_id"], s["status"]) for s in offline_statuses] == [(1, "Available")]
        samples = cs.log.calls("MeterValues")
        assert all(s["transaction_id"] == transaction.transaction_id for s in samples)
        timestamps = [s["meter_value"][0]["timestamp"] for s in samples]
        assert timestamps == sorted(timestamps)


async def test_a_refused_stop_is_retried_then_discarded() -> None:
    configuration = {"TransactionMessageAttempts": "3", "TransactionMessageRetryInterval": "5"}
    async with running(configuration=configuration) as (central, station):
        central.failing_stops = 5
        await station.boot()
        cs = await central.station("CP1")
        await station.plug_in(1)
        await station.start_transaction(1, "TAG1")
        await station.plug_in(2)
        await station.start_transaction(2, "TAG2")
        with pytest.raises(CallErrorReceived, match="database unavailable"):
            await station.stop_transaction(1)  # the last CALLERROR, once the attempts are spent
        assert len(cs.log.calls("StopTransaction")) == 3
        assert station.transaction_messages.discarded == 1
        assert station.stats.errors["CallError StopTransaction InternalError"] == 3
        # The queue goes on with the next message.
        central.failing_stops = 0
        assert await station.stop_transaction(2) is not None
