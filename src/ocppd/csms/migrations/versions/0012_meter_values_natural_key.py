"""meter_values: each sampled value once, by its natural key (retransmissions ignored)

The key is the charger, timestamp, connector, transaction, measurand, phase, location and
context. A missing transaction or phase is part of the key too: a unique index takes NULLs as
all different, so they are indexed as a value no stored row can have (transaction ids are
within +-(2**63 - 1): `transactions.storable`) and as "" (an absent phase and an empty one
are the same). Rows already stored twice are removed first, the first one kept. The index
begins with the old `ix_meter_values_charge_point` (charger, timestamp), which it replaces.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NATURAL_KEY = [
    "charge_point_id",
    "timestamp",
    "connector_id",
    "coalesce(transaction_id, -9223372036854775807 - 1)",
    "measurand",
    "coalesce(phase, '')",
    "location",
    "context",
]


def upgrade() -> None:
    key = ", ".join(NATURAL_KEY)
    first = f"SELECT min(id) FROM meter_values GROUP BY {key}"
    op.execute(f"DELETE FROM meter_values WHERE id NOT IN ({first})")
    op.drop_index("ix_meter_values_charge_point", table_name="meter_values")
    op.create_index(
        "ix_meter_values_natural_key",
        "meter_values",
        [sa.text(part) for part in NATURAL_KEY],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ix_meter_values_natural_key", table_name="meter_values")
    columns = ["charge_point_id", "timestamp"]
    op.create_index("ix_meter_values_charge_point", "meter_values", columns)
