"""unmatched_stops: each stop once, by its natural key (retransmissions ignored)

The key is the charger, transactionId, timestamp and meterStop. An unknown meterStop (NULL:
beyond a BIGINT) is part of the key too: a unique index takes NULLs as all different, so it is
indexed as a value no stored reading can have (they are within +-(2**63 - 1):
`transactions.storable`). Rows already stored twice are removed first, the first one kept.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NATURAL_KEY = [
    "charge_point_id",
    "transaction_id",
    "stopped_at",
    "coalesce(meter_stop, -9223372036854775807 - 1)",
]


def upgrade() -> None:
    key = ", ".join(NATURAL_KEY)
    first = f"SELECT min(id) FROM unmatched_stops GROUP BY {key}"
    op.execute(f"DELETE FROM unmatched_stops WHERE id NOT IN ({first})")
    op.create_index(
        "ix_unmatched_stops_natural_key",
        "unmatched_stops",
        [sa.text(part) for part in NATURAL_KEY],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ix_unmatched_stops_natural_key", table_name="unmatched_stops")
