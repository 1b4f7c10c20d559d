"""Which charge points may connect, how they authenticate, how they are answered at boot, and
which commands that answer lets the central system send them (OCPP 1.6, section 4.2)."""

import hashlib
import hmac
import secrets
from copy import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.csms.batch_database import AlchemyDatabase, Database
from ocppd.csms.models import charge_points
from ocppd.csms.settings import RegistrationPolicy, Settings
from ocppd.protocol.enums import RegistrationStatus
from ocppd.protocol.leniency import NO_RULES, Rule
from ocppd.transport.tls import ClientCertificate


@dataclass(slots=True)
class ChargePointRecord:
    id: str
    registration_status: RegistrationStatus
    auth_key_hash: str | None
    leniency_rules: frozenset[Rule]
    booted_at: datetime | None
    security_profile: int = 0
    """The lowest security profile its connections may use (security_profiles.py)."""
    charge_point_serial_number: str | None = None
    """Of its last BootNotification: what a client certificate's CN must equal with
    `--client-certificate-cn serial-number`."""
    client_certificate: ClientCertificate | None = None
    """Of the connection being admitted (profile 3), until its `Connected` event is out."""


_RECORD = (
    charge_points.c.id,
    charge_points.c.registration_status,
    charge_points.c.auth_key_hash,
    charge_points.c.leniency_rules,
    charge_points.c.booted_at,
    charge_points.c.security_profile,
    charge_points.c.charge_point_serial_number,
)


def _record(row: Any) -> ChargePointRecord:
    return ChargePointRecord(
        id=row.id,
        registration_status=RegistrationStatus(row.registration_status),
        auth_key_hash=row.auth_key_hash,
        leniency_rules=parse_rules(row.leniency_rules),
        booted_at=row.booted_at,
        security_profile=row.security_profile,
        charge_point_serial_number=row.charge_point_serial_number,
    )


async def load(connection: AsyncConnection, charge_point_id: str) -> ChargePointRecord | None:
    return (await load_many(connection, [charge_point_id])).get(charge_point_id)


async def load_many(connection: AsyncConnection, ids: list[str]) -> dict[str, ChargePointRecord]:
    """The records of the registered ones among `ids`, in one query."""
    rows = await connection.execute(sa.select(*_RECORD).where(charge_points.c.id.in_(set(ids))))
    return {row.id: _record(row) for row in rows}


class Admissions:
    """Charge points connecting, as one kind of the group commit's merged writes: a query for
    all the records a batch needs; with open registration the unknown ones are registered
    (Accepted, no key) by one INSERT ... ON CONFLICT DO NOTHING and read back. A record per
    item (the handler updates its own); None for an unknown identity otherwise."""

    order = -1
    on_driver = False  # rare (a connection opening), and its INSERT differs per database

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def apply(
        self, db: Database, ids: list[str]
    ) -> tuple[list[ChargePointRecord | None], list[Any]]:
        assert isinstance(db, AlchemyDatabase)
        connection = db.connection
        records = await load_many(connection, ids)
        unknown = {i for i in ids if i not in records}
        if unknown and self.settings.registration is RegistrationPolicy.OPEN:
            module = postgresql if connection.dialect.name == "postgresql" else sqlite
            new = module.insert(charge_points).on_conflict_do_nothing(index_elements=["id"])
            await connection.execute(new, [{"id": i} for i in sorted(unknown)])
            records.update(await load_many(connection, list(unknown)))
        return [None if i not in records else copy(records[i]) for i in ids], []


async def register(
    connection: AsyncConnection,
    charge_point_id: str,
    status: RegistrationStatus = RegistrationStatus.ACCEPTED,
    auth_key: str | None = None,
    leniency_rules: frozenset[Rule] = frozenset(),
    file_transport: str | None = None,
) -> None:
    """Add a charge point (or replace its registration settings); its default file
    transport is set when given, else kept (a new one: http)."""
    values = {
        "registration_status": status.value,
        "auth_key_hash": hash_key(auth_key) if auth_key else None,
        "leniency_rules": ",".join(sorted(leniency_rules)),
    }
    if file_transport is not None:
        values["file_transport"] = file_transport
    updated = await connection.execute(
        charge_points.update().where(charge_points.c.id == charge_point_id).values(**values)
    )
    if updated.rowcount == 0:
        await connection.execute(charge_points.insert().values(id=charge_point_id, **values))


async def raise_profile(charge_point_id: str, profile: int, connection: AsyncConnection) -> None:
    """The stored security profile raised to `profile`, never lowered (a concurrent raise
    to a higher one stays)."""
    await connection.execute(
        charge_points.update()
        .where(charge_points.c.id == charge_point_id, charge_points.c.security_profile < profile)
        .values(security_profile=profile)
    )


def parse_rules(text: str) -> frozenset[Rule]:
    return frozenset(Rule(name.strip()) for name in text.split(",") if name.strip()) or NO_RULES


NOT_WHILE_PENDING = frozenset({"RemoteStartTransaction", "RemoteStopTransaction"})


class CommandRefused(Exception):
    """A command not sent: the charge point's boot status forbids it."""


def refusal(
    identity: str, status: RegistrationStatus | None, action: str, force: bool
) -> CommandRefused | None:
    """Why `action` may not be sent to a charge point whose last boot was answered `status`
    (None: no boot answered yet, nothing refused), if it may not.

    Pending: the charge point is being provisioned and OCPP 1.6 (4.2) forbids a remote start or
    stop; every other command is allowed, and `force` does not lift the ban. Rejected: the
    central system SHOULD NOT send anything (the charger answers nothing until it boots
    again), so every command is refused unless the operator `force`s it."""
    if status is RegistrationStatus.PENDING and action in NOT_WHILE_PENDING:
        return CommandRefused(
            f"{action} is not sent to {identity!r} while its boot is Pending "
            "(OCPP 1.6, 4.2: no remote start or stop before it is Accepted)"
        )
    if status is RegistrationStatus.REJECTED and not force:
        return CommandRefused(
            f"{identity!r} was Rejected at boot: OCPP 1.6 says commands SHOULD NOT be sent to it "
            "(it answers nothing until it boots again); force it to send anyway"
        )
    return None


# AuthorizationKeys are 16-20 random bytes (security white paper): a salted SHA-256 is
# enough against a stolen database, and unlike a slow password hash it costs microseconds,
# so a reconnect storm of 10,000 chargers does not stall on key checks.


def hash_key(key: str) -> str:
    salt = secrets.token_hex(16)
    digest = hashlib.sha256(bytes.fromhex(salt) + key.encode()).hexdigest()
    return f"sha256${salt}${digest}"


def key_matches(key: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "sha256":
        return False
    candidate = hashlib.sha256(bytes.fromhex(salt) + key.encode()).hexdigest()
    return hmac.compare_digest(candidate, digest)
