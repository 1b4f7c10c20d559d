"""The message log: every frame in and out, stored with its charge point, and kept for a while."""

import functools
from datetime import timedelta

import msgspec

from ocppd.csms.clock import Clock
from ocppd.csms.group_commit import GroupCommit
from ocppd.csms.housekeeping import repeat
from ocppd.csms.models import messages
from ocppd.rpc.session import Traffic


class MessageLog:
    def __init__(self, writer: GroupCommit, clock: Clock) -> None:
        self.writer = writer
        self.clock = clock

    def observer(self, charge_point_id: str) -> "FrameRecorder":
        return FrameRecorder(self, charge_point_id)

    async def prune(self, retention: timedelta) -> int:
        """Delete frames older than `retention`; how many went."""
        cutoff = self.clock() - retention
        async with self.writer.engine.begin() as connection:
            result = await connection.execute(messages.delete().where(messages.c.at < cutoff))
        return int(result.rowcount or 0)

    async def keep_pruning(self, retention: timedelta) -> None:
        await repeat(
            "message log pruning",
            functools.partial(self.prune, retention),
            f"message log: %d frames older than {retention} deleted",
        )


class FrameRecorder:
    """A session observer that logs one charge point's frames (in the next group commit)."""

    def __init__(self, message_log: MessageLog, charge_point_id: str) -> None:
        self.message_log = message_log
        self.charge_point_id = charge_point_id

    def __call__(self, traffic: Traffic) -> None:
        data = traffic.data
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        if traffic.action == "ChangeConfiguration" and traffic.message_type == 2:
            text = redact_authorization_key(text)
        row = {
            "charge_point_id": self.charge_point_id,
            "direction": traffic.direction.value,
            "message_type": traffic.message_type,
            "action": traffic.action,
            "unique_id": None if traffic.unique_id is None else traffic.unique_id[:64],
            "payload": text,
            "at": self.message_log.clock(),
        }
        self.message_log.writer.insert_later([(messages, row)])


REDACTED = "<redacted>"


def redact_authorization_key(frame: str) -> str:
    """The frame with the value of a ChangeConfiguration(AuthorizationKey) hidden: the key is
    write-only and is never logged (security white paper)."""
    try:
        call = msgspec.json.decode(frame)
        payload = call[3]
        if str(payload.get("key", "")).lower() != "authorizationkey":
            return frame
    except (msgspec.DecodeError, IndexError, TypeError, AttributeError):
        return frame
    payload["value"] = REDACTED
    return msgspec.json.encode(call).decode()
