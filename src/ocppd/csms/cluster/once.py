"""Housekeeping once per cluster per period (decision 0005, "Cluster-wide singletons").

Each node repeats its housekeeping (`csms.housekeeping.repeat`); before a run it claims the
period with `SET ocppd:once:{work} node NX PX period`. The first node to ask after the previous
claim expired runs it: runs are at least a period apart cluster-wide, and at most a period
plus a run's time apart while any node is up (each node asks once a period, after its own run).
No lease is renewed and nothing is released: a node that dies after its claim leaves that
period's run undone.
"""

from redis.asyncio import Redis

from ocppd.csms.cluster.cancellation import raise_if_cancelled


def once_key(work: str) -> str:
    return f"ocppd:once:{work}"


async def claim(redis: "Redis", work: str, node: str, period: float) -> bool:
    """Whether this node runs this period's `work`; raises what Redis raises."""
    claimed = await redis.set(once_key(work), node, nx=True, px=max(1, round(period * 1000)))
    raise_if_cancelled()
    return bool(claimed)
