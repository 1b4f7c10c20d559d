"""The message log: every frame in and out, stored with its charge point, and kept for a while."""

import functools
import hashlib
import logging
from collections.abc import Container
from datetime import datetime, timedelta

import msgspec

from ocppd.csms.authorization_key import (
    NAMING_AUTHORIZATION_KEY,
    redact_authorization_key,
)
from ocppd.csms.clock import Clock
from ocppd.csms.group_commit import GroupCommit
from ocppd.csms.housekeeping import Claim, repeat
from ocppd.csms.models import messages
from ocppd.csms.stored_text import column_lengths
from ocppd.csms.transfer_credentials import CARRYING_LOCATIONS, redact_transfer_credentials
from ocppd.rpc.session import Traffic

log = logging.getLogger("ocppd.csms.message_log")


class MessageLog:
    """The log of frames. `budget_size`: characters of frames a charge point may add an hour
    (0: no limit); beyond them its frames are logged as their size and SHA-256, so that one
    charger cannot fill the disk with large frames. `connected`: the identities connected now
    (whose budgets are in use)."""

    def __init__(
        self,
        writer: GroupCommit,
        clock: Clock,
        budget_size: int = 0,
        connected: Container[str] = (),
    ) -> None:
        self.writer = writer
        self.clock = clock
        self.budget_size = budget_size
        self.connected = connected
        self._budgets: dict[str, Budget] = {}
        self._sweep_at = SWEEP_AT_LEAST

    def observer(self, charge_point_id: str) -> "FrameRecorder":
        budget = None
        if self.budget_size:  # kept across the charge point's connections
            budget = self._budgets.get(charge_point_id)
            if budget is None:
                budget = self._new_budget(charge_point_id)
        return FrameRecorder(self, charge_point_id, budget)

    def _new_budget(self, charge_point_id: str) -> "Budget":
        now = self.clock()
        if len(self._budgets) >= self._sweep_at:
            self._forget_ended(now)
        budget = self._budgets[charge_point_id] = Budget(self.budget_size, now)
        return budget

    def _forget_ended(self, now: datetime) -> None:
        """Forget the budgets of chargers not connected whose period has ended: a new one,
        begun at their next connection, allows no more an hour. (With open registration every
        new identity adds one.) Swept when the budgets have doubled since the last sweep, so
        that a connection costs O(1) amortized; what stays are the chargers connected or seen
        within the hour."""
        self._budgets = {
            identity: budget
            for identity, budget in self._budgets.items()
            if budget.renews_at > now or identity in self.connected
        }
        self._sweep_at = max(SWEEP_AT_LEAST, 2 * len(self._budgets))

    @property
    def budgets_kept(self) -> int:
        return len(self._budgets)

    async def prune(self, retention: timedelta) -> int:
        """Delete frames older than `retention`; how many went."""
        cutoff = self.clock() - retention
        async with self.writer.engine.begin() as connection:
            result = await connection.execute(messages.delete().where(messages.c.at < cutoff))
        return int(result.rowcount or 0)

    async def keep_pruning(self, retention: timedelta, claim: Claim | None = None) -> None:
        """Prune hourly (`claim`: when this node's turn, in a cluster)."""
        await repeat(
            "message log pruning",
            functools.partial(self.prune, retention),
            f"message log: %d frames older than {retention} deleted",
            claim=claim,
        )


class Budget:
    """What one charge point may still add to the log (`MessageLog`): `size` characters a
    period of at least an hour. A period ends when a frame would go over and an hour has
    passed since it began (so that a frame within the budget costs a subtraction, not a
    look at the clock); the frame begins the next one."""

    __slots__ = ("left", "renews_at", "size", "warned")

    def __init__(self, size: int, now: datetime) -> None:
        self.size = size
        self.renew(now)

    def renew(self, now: datetime) -> None:
        self.left = self.size
        self.renews_at = now + BUDGET_PERIOD
        self.warned = False


BUDGET_PERIOD = timedelta(hours=1)
SWEEP_AT_LEAST = 1024
"""Budgets kept before the first sweep of those ended (`MessageLog._forget_ended`)."""


class FrameRecorder:
    """A session observer that logs one charge point's frames (in the next group commit)."""

    def __init__(
        self, message_log: MessageLog, charge_point_id: str, budget: Budget | None = None
    ) -> None:
        self.message_log = message_log
        self.charge_point_id = charge_point_id
        self.budget = budget

    def __call__(self, traffic: Traffic) -> None:
        data = traffic.data
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        action = traffic.action
        if action is None or action in NAMING_AUTHORIZATION_KEY:
            text = redact_authorization_key(text, action)
        elif action in CARRYING_LOCATIONS:
            text = redact_transfer_credentials(text)
        elif len(action) > ACTION_LENGTH:
            action = action[:ACTION_LENGTH]  # an unknown action, answered NotImplemented
        now = self.message_log.clock()
        budget = self.budget
        if budget is not None:
            budget.left -= len(text)
            if budget.left < 0:
                text = self._over_budget(budget, text, now)
        unique_id = traffic.unique_id
        row = {
            "charge_point_id": self.charge_point_id,
            "direction": traffic.direction.value,
            "message_type": traffic.message_type,
            "action": action,
            "unique_id": None if unique_id is None else unique_id[:UNIQUE_ID_LENGTH],
            "payload": text,
            "at": now,
        }
        self.message_log.writer.insert_later([(messages, row)])

    def _over_budget(self, budget: Budget, text: str, now: datetime) -> str:
        """A frame that `budget` has no room for: `text` again in a new period, else a
        placeholder with its size and SHA-256 (the frame itself is handled as any other)."""
        if now >= budget.renews_at:
            budget.renew(now)
            budget.left -= len(text)
            if budget.left >= 0:
                return text
        if not budget.warned:
            budget.warned = True
            log.warning(
                "%s: message log budget (%d characters an hour) used up: its frames are "
                "logged as their size and SHA-256 until %s",
                self.charge_point_id,
                budget.size,
                budget.renews_at.isoformat(),
            )
        return placeholder(text)


ACTION_LENGTH = column_lengths(messages)["action"]
UNIQUE_ID_LENGTH = column_lengths(messages)["unique_id"]


def placeholder(text: str) -> str:
    """What the log keeps of a frame over its charge point's budget."""
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()
    return msgspec.json.encode(
        {"omitted": OVER_BUDGET, "size": len(text), "sha256": digest}
    ).decode()


OVER_BUDGET = "over the charge point's message log budget"
