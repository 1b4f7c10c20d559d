"""Whatever lands on a node's channel (another program, a corrupted message, a foreign
version) is logged and dropped, or answered with an error; the node goes on serving."""

import time

import msgspec
import pytest
import redis.asyncio as redis

from tests.cluster_nodes import DEADLINE, Cluster, charger

pytestmark = pytest.mark.slow


def call(**fields: object) -> bytes:
    message = {
        "type": "call",
        "id": "t1",
        "reply_to": "ocppd:to:TEST",
        "identity": "CP1",
        "action": "Reset",
        "payload": {"type": "Soft"},
        "timeout": None,
    }
    return msgspec.json.encode(message | fields)


GARBAGE = [
    b"not json",
    b"\xff\xfe\x00",
    b"[]",
    b'{"type":"call"}',
    b'{"type":"nonsense","id":"1"}',
    b'{"type":"reply","id":"nobody waits for this","result":1}',
    b'{"type":"reply","id":5,"result":1}',
    call(reply_to="somewhere else"),
    call(fence={"lease": "x", "token": "not a number"}),
    b"x" * 100_000,
    # A close code or reason no WebSocket may send: the charger would stay connected to a
    # session already forgotten (the Reset below would find it gone).
    b'{"type":"disconnect","id":"d1","reply_to":"ocppd:to:TEST","identity":"CP1",'
    b'"code":99999,"reason":"x"}',
    b'{"type":"disconnect","id":"d2","reply_to":"ocppd:to:TEST","identity":"CP1",'
    b'"code":1000,"reason":"' + "é".encode() * 100 + b'"}',
    b"[" * 5_000 + b"]" * 5_000,
]


async def test_garbage_on_a_channel_is_dropped_and_the_node_serves_on(cluster: Cluster) -> None:
    a, b = cluster.start("A"), cluster.start("B")
    client = redis.Redis.from_url(cluster.redis.url)
    listener = client.pubsub()
    try:
        await listener.subscribe("ocppd:to:TEST")
        async with charger(a, "CP1") as cp:
            cp.replies["Reset"] = {"status": "Accepted"}
            for data in GARBAGE:
                assert await client.publish("ocppd:to:A", data) == 1
            # Requests well formed but wrong get an error back.
            await client.publish("ocppd:to:A", call(id="t2", action="NoSuchAction"))
            await client.publish("ocppd:to:A", call(id="t3", payload={"type": 5}))
            await client.publish("ocppd:to:A", call(id="t4", identity="NOT-HERE"))
            replies = {}
            end = time.monotonic() + DEADLINE
            while len(replies) < 3 and time.monotonic() < end:
                # None also for the subscription's confirmation: look again.
                message = await listener.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None:
                    reply = msgspec.json.decode(message["data"])
                    replies[reply["id"]] = reply["error"]
            assert replies["t2"]["type"] == "RemoteFailure"
            assert "NoSuchAction" in replies["t2"]["message"]
            assert replies["t3"]["type"] == "RemoteFailure"
            assert replies["t4"]["type"] == "NotHeld"
            answer = await b.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
            assert (answer.status, answer.body) == (200, {"status": "Accepted"})
            assert cp.received == [("Reset", {"type": "Soft"})]
        assert a.terminate() == 0
        output = a.output()
        assert "garbled messages on ocppd:to:A" in output, output
        assert "Traceback" not in output, output
    finally:
        await listener.aclose()
        await client.aclose()
