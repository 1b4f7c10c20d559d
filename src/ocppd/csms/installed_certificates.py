"""The root certificates each charger says it has installed, from its answers.

Recorded from every answer that passes `CentralSystem.call` (whoever sent the command: the
API, the CLI's `call`, the dashboard): an Accepted GetInstalledCertificateIds replaces what
was known of that charger and certificate type with its hash data; NotFound empties it; an
Accepted DeleteCertificate removes the certificate it named (compared as OCPP compares
hash data: the hashes without case, the serial numbers as numbers). InstallCertificate
answers add nothing: the charger's hash data of a certificate is known only from its own
report.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from msgspec import UNSET
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ocppd.csms.clock import as_utc
from ocppd.csms.models import installed_certificates
from ocppd.csms.stored_text import fitted
from ocppd.csms.system_services import SystemServices
from ocppd.protocol import security as s
from ocppd.protocol.datatypes import CertificateHashData
from ocppd.protocol.enums import DeleteCertificateStatus, GetInstalledCertificateStatus

HASH_FIELDS = ("hash_algorithm", "issuer_name_hash", "issuer_key_hash", "serial_number")


class InstalledCertificates:
    def __init__(self, system: SystemServices) -> None:
        self.system = system
        system.recorders.setdefault("GetInstalledCertificateIds", []).append(self.reported)
        system.recorders.setdefault("DeleteCertificate", []).append(self.deleted)

    async def reported(
        self,
        charge_point_id: str,
        request: s.GetInstalledCertificateIdsRequest,
        response: s.GetInstalledCertificateIdsResponse,
        sent_at: datetime,
    ) -> None:
        certificate_type = str(request.certificate_type)
        listed: list[CertificateHashData] = (
            []
            if response.status != GetInstalledCertificateStatus.ACCEPTED
            or response.certificate_hash_data is UNSET
            else response.certificate_hash_data
        )
        now = self.system.clock()
        rows = [
            fitted(
                installed_certificates,
                {
                    "charge_point_id": charge_point_id,
                    "certificate_type": certificate_type,
                    **{name: str(getattr(data, name)) for name in HASH_FIELDS},
                    "reported_at": now,
                },
            )
            for data in listed
        ]

        async def replace(db: AsyncConnection) -> None:
            c = installed_certificates.c
            await db.execute(
                installed_certificates.delete().where(
                    c.charge_point_id == charge_point_id, c.certificate_type == certificate_type
                )
            )
            if rows:
                await db.execute(installed_certificates.insert(), rows)

        await self.system.writer.commit([], replace)

    async def deleted(
        self,
        charge_point_id: str,
        request: s.DeleteCertificateRequest,
        response: s.DeleteCertificateResponse,
        sent_at: datetime,
    ) -> None:
        if response.status != DeleteCertificateStatus.ACCEPTED:
            return
        named = request.certificate_hash_data
        c = installed_certificates.c

        async def remove(db: AsyncConnection) -> None:
            rows = await db.execute(
                sa.select(c.id, *(getattr(c, name) for name in HASH_FIELDS)).where(
                    c.charge_point_id == charge_point_id
                )
            )
            gone = [row.id for row in rows if s.same_certificate(row, named)]
            if gone:
                await db.execute(installed_certificates.delete().where(c.id.in_(gone)))

        await self.system.writer.commit([], remove)


async def of(engine: AsyncEngine, charge_point_id: str) -> list[dict[str, Any]]:
    """What the charger last reported, by type then serial number."""
    c = installed_certificates.c
    async with engine.connect() as db:
        found = await db.execute(
            sa.select(installed_certificates)
            .where(c.charge_point_id == charge_point_id)
            .order_by(c.certificate_type, c.serial_number, c.id)
        )
        return [
            {
                "certificate_type": row.certificate_type,
                **{name: getattr(row, name) for name in HASH_FIELDS},
                "reported_at": as_utc(row.reported_at),
            }
            for row in found
        ]
