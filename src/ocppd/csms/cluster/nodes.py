"""The live nodes: `ocppd:node:{name}` holds a node's run id under a lease it renews, and
`ocppd:nodes` what `GET /api/v1/cluster` shows of it (docs/decisions/0005-cluster.md).

A node is live while its key holds the run id it wrote: a restarted node has a new run id,
so what the earlier run left (its owners entries) counts as nobody's.
"""

from datetime import datetime

import msgspec

NODES = "ocppd:nodes"
LEASE = 10.0
"""Seconds a node's key outlives its last renewal: how long a node killed without a word
(kill -9, a cut network) still counts as live. Its chargers are not waiting on it: they
reconnect elsewhere and are claimed at once."""
RENEW = 2.0
"""Seconds between renewals: five chances per lease."""


def node_key(name: str) -> str:
    return f"ocppd:node:{name}"


def channel(name: str) -> str:
    """Where a node receives requests and replies."""
    return f"ocppd:to:{name}"


class NodeEntry(msgspec.Struct, rename="camel", frozen=True):
    run: str
    address: str
    started_at: datetime
    version: str
    charge_points: int


encode_entry = msgspec.json.Encoder().encode
_decode_entry = msgspec.json.Decoder(NodeEntry).decode


def decode_entry(data: bytes | str) -> NodeEntry | None:
    try:
        return _decode_entry(data)
    except msgspec.DecodeError:
        return None


REGISTER = """
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] and current ~= ARGV[5] then
    return current
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
if current == ARGV[1] then
    return false
end
return 1
"""
"""Renew this run's lease and entry; KEYS: node key, nodes hash; ARGV: run, lease in ms, name,
entry, a leftover run that may be taken over (or ''). Returns nil when renewed, 1 when the
key was not there (new, or expired: Redis lost it, or this node paused past its lease), or
another run's id holding the name (nothing is written then)."""

SWEEP_NODE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] and
        redis.call('GET', KEYS[2]) ~= ARGV[3] then
    return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""
"""Delete a node's entry (KEYS: nodes hash, its node key; ARGV: name, the entry seen, its
run) if it is still the one seen and its key no longer holds its run."""

LEAVE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('DEL', KEYS[1])
    redis.call('HDEL', KEYS[2], ARGV[2])
end
return 0
"""
"""Delete this run's lease and entry (not a successor's of the same name)."""
