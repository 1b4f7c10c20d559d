"""The operators' audit log: every change an operator makes or tries to make, with who
(a token's id, name and role; or `cli` and the OS user for the commands that write the
database themselves), when, what (the method and route, the operation, the charge point, a
summary of the request) and the outcome (the HTTP status; a command's answer status or the
error).

The API records every mutating request under /api/v1 (`ocppd.api.audit_log`): the attempt is
written before the request is carried out, and a request whose attempt cannot be written is
refused (fail closed: no change without its entry); the outcome is written before the answer
goes out. An entry whose outcome could not be written keeps `outcome` NULL ("not known").

Summaries never hold secrets: a field named like one (a token, a password, an
AuthorizationKey, a CSR, a private key) is redacted, as are a ChangeConfiguration's
AuthorizationKey value, the password of a URI (`ftp://user:<redacted>@host/`) and any PEM
private key or certificate request; long strings and lists are cut, and a summary has a
budget of characters, so that an entry stays small whatever was sent.

Entries are kept: nothing deletes them (an audit trail that ages out is no trail; an
operator's changes are few next to the chargers' messages).
"""

import getpass
import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.csms.authorization_key import REDACTED, hide
from ocppd.csms.clock import utc_now
from ocppd.csms.models import audit_log
from ocppd.csms.transfer_credentials import hide_url_passwords

CLI = "cli"
"""The role of the entries the command line writes itself (`token create`...)."""

SUCCEEDED, REFUSED, FAILED = "succeeded", "refused", "failed"
OUTCOMES = (SUCCEEDED, REFUSED, FAILED)

SECRET_NAMES = (
    "token",
    "password",
    "passphrase",
    "secret",
    "credential",
    "authorizationkey",
    "privatekey",
    "csr",
)
"""A field whose name (in any case) contains one of these has its value redacted, unless it
names an id (`tokenId`)."""
SECRET_PEM = re.compile(r"-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE REQUEST)-----")

MAX_STRING = 200
MAX_ITEMS = 20
MAX_DEPTH = 8
BUDGET = 4000
"""About how many characters of strings a summary keeps in all."""

ROUTE_LENGTH, OPERATION_LENGTH, IDENTITY_LENGTH, RESULT_LENGTH = 255, 64, 255, 255


@dataclass(frozen=True)
class Actor:
    token_id: int | None
    name: str
    role: str


@dataclass(frozen=True)
class Entry:
    """What was asked, by whom: an entry before its outcome."""

    actor: Actor
    method: str
    route: str
    operation: str
    charge_point_id: str | None
    request: Any
    """A summary (`summary`): JSON-able, secrets redacted."""


def cli_actor() -> Actor:
    """The user running a command that writes the database itself."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment nor the user database
        user = f"uid {os.getuid()}"
    return Actor(None, user, CLI)


def outcome_of(status: int) -> str:
    if status < 400:
        return SUCCEEDED
    return REFUSED if status < 500 else FAILED


async def begin(db: AsyncConnection, at: datetime, entry: Entry) -> int:
    """Write `entry` with no outcome yet; its id, for `finish`."""
    entry_id = await db.scalar(
        audit_log.insert().values(at=at, **_values(entry)).returning(audit_log.c.id)
    )
    return int(entry_id)


async def finish(
    db: AsyncConnection,
    entry_id: int,
    status: int | None,
    outcome: str,
    result: str | None,
    response: Any = None,
    charge_point_id: str | None = None,
) -> None:
    """Write the outcome of entry `entry_id`, and the charge point the answer named when
    the request did not (`charge_point_id`)."""
    values = _outcome(status, outcome, result, response)
    if charge_point_id is not None:
        values["charge_point_id"] = charge_point_id[:IDENTITY_LENGTH]
    await db.execute(audit_log.update().where(audit_log.c.id == entry_id).values(values))


async def record(
    db: AsyncConnection,
    at: datetime,
    entry: Entry,
    status: int | None,
    outcome: str,
    result: str | None,
    response: Any = None,
) -> int:
    """Write `entry` with its outcome at once (a request refused before it was carried out,
    or a command of the command line, in the transaction of its change)."""
    values = _values(entry) | _outcome(status, outcome, result, response)
    entry_id = await db.scalar(audit_log.insert().values(at=at, **values).returning(audit_log.c.id))
    return int(entry_id)


async def record_command_line(
    db: AsyncConnection,
    command: str,
    operation: str,
    request: Any,
    *,
    charge_point_id: str | None = None,
    outcome: str = SUCCEEDED,
    result: str | None = None,
    response: Any = None,
) -> None:
    """The entry of a command that writes the database itself (`token create`), in the
    transaction of its change: the one is not committed without the other."""
    entry = Entry(
        cli_actor(), "CLI", "ocppd " + command, operation, charge_point_id, summary(request)
    )
    await record(db, utc_now(), entry, None, outcome, result, response)


def _values(entry: Entry) -> dict[str, Any]:
    return {
        "token_id": entry.actor.token_id,
        "actor": entry.actor.name[:IDENTITY_LENGTH],
        "role": entry.actor.role,
        "method": entry.method[:8],
        "route": entry.route[:ROUTE_LENGTH],
        "operation": entry.operation[:OPERATION_LENGTH],
        # Cut to the column: the attempt is written before the route refuses a long one.
        "charge_point_id": None
        if entry.charge_point_id is None
        else entry.charge_point_id[:IDENTITY_LENGTH],
        "request": _json(entry.request),
    }


def _outcome(status: int | None, outcome: str, result: str | None, response: Any) -> dict[str, Any]:
    return {
        "status": status,
        "outcome": outcome,
        "result": None if result is None else _cut(result, RESULT_LENGTH),
        "response": None if response is None else _json(response),
    }


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def summary(value: Any) -> Any:
    """`value` (decoded JSON, or path and query parameters) as an entry keeps it: secrets
    redacted, long strings and lists cut, within a budget of characters."""
    if isinstance(value, dict | list):
        value = msgspec.json.decode(msgspec.json.encode(value))  # a copy `hide` may change
        hide(value)  # ChangeConfiguration's AuthorizationKey value
    return _Summary().of(value, 0)


class _Summary:
    def __init__(self) -> None:
        self.left = BUDGET

    def of(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            return self._text(value)
        if not isinstance(value, dict | list):
            return value
        if depth >= MAX_DEPTH or self.left <= 0:
            return "…"
        if isinstance(value, list):
            kept = [self.of(item, depth + 1) for item in value[:MAX_ITEMS]]
            if len(value) > MAX_ITEMS:
                kept.append(f"… ({len(value) - MAX_ITEMS} more)")
            return kept
        kept_fields: dict[str, Any] = {}
        for key, item in value.items():
            if self.left <= 0:
                kept_fields["…"] = f"{len(value) - len(kept_fields)} more fields"
                break
            name = self._text(str(key))
            kept_fields[name] = REDACTED if secret_name(str(key)) else self.of(item, depth + 1)
        return kept_fields

    def _text(self, text: str) -> str:
        if SECRET_PEM.search(text):
            return REDACTED
        text = hide_url_passwords(text)
        limit = max(0, min(MAX_STRING, self.left))
        self.left -= min(len(text), MAX_STRING) + 1
        if len(text) <= limit:
            return text
        return text[:limit] + f"… ({len(text)} characters)"


def secret_name(name: str) -> bool:
    """A name like `token`, `authorizationKey` or `ftpPassword`; not an id (`tokenId`)."""
    lowered = name.lower()
    return not lowered.endswith("id") and any(word in lowered for word in SECRET_NAMES)
