"""transactions: reservation ids as BIGINT; running transactions by folded tag, indexed

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNNING = sa.text("stopped_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.alter_column("reservation_id", type_=sa.BigInteger(), existing_nullable=True)
    op.create_index(
        "ix_transactions_running_tag",
        "transactions",
        [sa.text("lower(id_tag)")],
        postgresql_where=RUNNING,
        sqlite_where=RUNNING,
    )


def downgrade() -> None:
    op.drop_index("ix_transactions_running_tag", table_name="transactions")
    with op.batch_alter_table("transactions") as batch:
        batch.alter_column("reservation_id", type_=sa.Integer(), existing_nullable=True)
