"""configuration

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "configuration",
        sa.Column("charge_point_id", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=50), nullable=False),
        sa.Column("known", sa.Boolean(), nullable=False),
        sa.Column("readonly", sa.Boolean(), nullable=True),
        sa.Column("value", sa.String(length=500), nullable=True),
        sa.Column("reboot_required", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("charge_point_id", "key", name=op.f("pk_configuration")),
    )


def downgrade() -> None:
    op.drop_table("configuration")
