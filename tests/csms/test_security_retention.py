"""What a hostile charger can make ocppd store for its security, bounded by the retention:
certificate requests rejected without a certificate (a SignCertificate loop) go with the
security events."""

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from ocppd.csms import models
from ocppd.csms.settings import Settings
from tests.csms.conftest import FixedClock, RunningServer
from tests.csms.test_security_events import ask, booted, charger


async def requests(server: RunningServer) -> list[Any]:
    table = models.certificate_requests
    async with server.system.engine.connect() as db:
        query = sa.select(table.c.status, table.c.reason, table.c.serial_number)
        return list((await db.execute(query.order_by(table.c.id))).all())


async def test_rejected_certificate_requests_are_pruned_after_the_retention(
    server: RunningServer, clock: FixedClock
) -> None:
    async with charger(server) as ws:
        await booted(ws)
        for n in range(3):
            answer = await ask(ws, "SignCertificate", {"csr": f"not a CSR {n}"}, f"old{n}")
            assert answer == [3, f"old{n}", {"status": "Rejected"}]
        # An operator's no to a request already signed: the record of an issued certificate.
        async with server.system.engine.begin() as db:
            await db.execute(
                models.certificate_requests.insert().values(
                    charge_point_id="CP1",
                    csr="-----BEGIN CERTIFICATE REQUEST-----",
                    status="rejected",
                    serial_number="0a1b",
                    requested_at=clock.now,
                    decided_at=clock.now,
                )
            )
        clock.now += timedelta(days=Settings().security_event_retention_days + 1)
        answer = await ask(ws, "SignCertificate", {"csr": "not a CSR either"}, "new")
        assert answer == [3, "new", {"status": "Rejected"}]
    assert len(await requests(server)) == 5
    assert await server.system.prune_security_events() == 3
    kept = await requests(server)
    assert [(row.status, row.serial_number) for row in kept] == [
        ("rejected", "0a1b"),
        ("rejected", None),
    ]
