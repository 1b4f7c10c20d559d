"""The event bus: publishing never waits; a subscriber that falls behind is ended."""

from datetime import UTC, datetime

import pytest

from ocppd.csms.events import EventBus

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def test_subscribers_get_events_in_order_and_closing_ends_them() -> None:
    bus = EventBus()
    bus.publish("Connected", "CP0", AT)  # nobody listens: dropped
    first, second = bus.subscribe(), bus.subscribe()
    bus.publish("Connected", "CP1", AT)
    bus.publish("Disconnected", "CP1", AT, code=1000)
    for subscription in (first, second):
        got = [await subscription.next(1), await subscription.next(1)]
        assert [(e.type, e.charge_point_id, e.data) for e in got if e] == [
            ("Connected", "CP1", {}),
            ("Disconnected", "CP1", {"code": 1000}),
        ]
    assert await first.next(0.01) is None
    first.close()
    assert bus.active
    bus.close()
    assert not bus.active
    with pytest.raises(StopAsyncIteration):
        await second.next(1)


async def test_a_subscriber_that_falls_behind_is_ended() -> None:
    bus = EventBus(max_queued=3)
    slow = bus.subscribe()
    for n in range(5):
        bus.publish("MeterValues", f"CP{n}", AT)
    assert slow.overflowed and not bus.active
    assert [event.charge_point_id async for event in slow] == ["CP0", "CP1", "CP2"]
