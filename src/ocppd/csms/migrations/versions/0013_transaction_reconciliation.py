"""transactions: the evidence a forgotten transaction was closed on; open ones by connector

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("stopped_at IS NULL")


def upgrade() -> None:
    # Not a batch: SQLite's copy of the table would lose the expression index of 0008.
    op.add_column("transactions", sa.Column("stop_evidence", sa.String(255)))
    op.create_index(
        "ix_transactions_open_connector",
        "transactions",
        ["charge_point_id", "connector_id"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_transactions_open_connector", table_name="transactions")
    op.drop_column("transactions", "stop_evidence")
