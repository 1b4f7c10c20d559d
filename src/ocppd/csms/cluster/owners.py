"""Who holds which charge point: the hash `ocppd:owners`, identity -> entry of the node that
holds its newest connection (docs/decisions/0005-cluster.md).

An entry is `node|run|token|connected_at`: the node's name, its process's run id (an entry
of an earlier run of a restarted node is stale), a token per connection (so that a closing
connection deletes its own entry and never a newer one) and when it connected. Only the name
may contain '|', so an entry is split from the right.

The scripts run in Redis, each one atomic step: claims and releases (set, returning what it
replaced; compare-and-delete), reclaim (set unless another holder's entry is there).
"""

import secrets
from dataclasses import dataclass
from datetime import datetime

OWNERS = "ocppd:owners"


@dataclass(frozen=True, slots=True)
class Entry:
    node: str
    run: str
    token: str
    connected_at: datetime

    def text(self) -> str:
        return f"{self.node}|{self.run}|{self.token}|{self.connected_at.isoformat()}"

    @staticmethod
    def new(node: str, run: str, connected_at: datetime) -> "Entry":
        return Entry(node, run, secrets.token_hex(6), connected_at)


def parse(text: bytes | str) -> Entry | None:
    """The entry, or None for a value no node wrote (logged by the caller if it matters)."""
    if isinstance(text, bytes):
        try:
            text = text.decode()
        except UnicodeDecodeError:
            return None
    parts = text.rsplit("|", 3)
    if len(parts) != 4 or not all(parts):
        return None
    try:
        at = datetime.fromisoformat(parts[3])
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    return Entry(parts[0], parts[1], parts[2], at)


CLAIM_AND_RELEASE = """
local previous = {}
for i = 1, #ARGV, 3 do
    local identity, entry = ARGV[i + 1], ARGV[i + 2]
    local current = redis.call('HGET', KEYS[1], identity)
    if ARGV[i] == 'claim' then
        redis.call('HSET', KEYS[1], identity, entry)
        previous[#previous + 1] = current or ''
    else
        if current == entry then
            redis.call('HDEL', KEYS[1], identity)
        end
        previous[#previous + 1] = ''
    end
end
return previous
"""
"""Many claims and releases in one step, in their order: ARGV is (`claim` or `release`,
identity, entry) triples; returns, for each, the entry a claim replaced ('' for none, and for
a release). A claim: newest wins, the entry becomes the new one whatever it was; a release:
RELEASE's compare-and-delete. One script call for many: the claims of a storm coalesced."""

RELEASE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
    return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""
"""Compare-and-delete: only the entry this connection wrote."""

RECLAIM = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current == false or current == ARGV[2] or current == ARGV[3] then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
    return false
end
return current
"""
"""After Redis came back: the entry is set again unless another one is there (ARGV[3]: a
stale one known to be replaceable, or ''); returns that other one."""
