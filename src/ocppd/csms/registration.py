"""Which charge points may connect, how they authenticate, and how they are answered at boot."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ocppd.csms.models import charge_points
from ocppd.protocol.enums import RegistrationStatus
from ocppd.protocol.leniency import Rule


@dataclass
class ChargePointRecord:
    id: str
    registration_status: RegistrationStatus
    auth_key_hash: str | None
    leniency_rules: frozenset[Rule]
    booted_at: datetime | None


async def load(connection: AsyncConnection, charge_point_id: str) -> ChargePointRecord | None:
    row = (
        await connection.execute(
            sa.select(
                charge_points.c.registration_status,
                charge_points.c.auth_key_hash,
                charge_points.c.leniency_rules,
                charge_points.c.booted_at,
            ).where(charge_points.c.id == charge_point_id)
        )
    ).first()
    if row is None:
        return None
    return ChargePointRecord(
        id=charge_point_id,
        registration_status=RegistrationStatus(row.registration_status),
        auth_key_hash=row.auth_key_hash,
        leniency_rules=parse_rules(row.leniency_rules),
        booted_at=row.booted_at,
    )


async def register(
    connection: AsyncConnection,
    charge_point_id: str,
    status: RegistrationStatus = RegistrationStatus.ACCEPTED,
    auth_key: str | None = None,
    leniency_rules: frozenset[Rule] = frozenset(),
) -> None:
    """Add a charge point (or replace its registration settings)."""
    values = {
        "registration_status": status.value,
        "auth_key_hash": hash_key(auth_key) if auth_key else None,
        "leniency_rules": ",".join(sorted(leniency_rules)),
    }
    updated = await connection.execute(
        charge_points.update().where(charge_points.c.id == charge_point_id).values(**values)
    )
    if updated.rowcount == 0:
        await connection.execute(charge_points.insert().values(id=charge_point_id, **values))


def parse_rules(text: str) -> frozenset[Rule]:
    return frozenset(Rule(name.strip()) for name in text.split(",") if name.strip())


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
