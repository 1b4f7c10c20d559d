"""local authorization lists

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "local_lists",
        sa.Column("charge_point_id", sa.String(length=255), nullable=False),
        sa.Column("sent_version", sa.BigInteger(), nullable=True),
        sa.Column("sent_update_type", sa.String(length=16), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("acknowledged_version", sa.BigInteger(), nullable=True),
        sa.Column("needs_full", sa.Boolean(), nullable=False),
        sa.Column("reported_version", sa.BigInteger(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("charge_point_id", name=op.f("pk_local_lists")),
    )
    op.create_table(
        "local_list_entries",
        sa.Column("charge_point_id", sa.String(length=255), nullable=False),
        sa.Column("id_tag", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expiry_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parent_id_tag", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("charge_point_id", "id_tag", name=op.f("pk_local_list_entries")),
    )


def downgrade() -> None:
    op.drop_table("local_list_entries")
    op.drop_table("local_lists")
