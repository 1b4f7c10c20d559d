"""sites and their charge points

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("limit", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=1), nullable=False),
        sa.Column("min_per_car", sa.Float(), nullable=True),
        sa.Column("max_per_car", sa.Float(), nullable=True),
        sa.Column("voltage", sa.Float(), nullable=False),
        sa.Column("phases", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("schedule", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    op.create_table(
        "site_members",
        sa.Column("charge_point_id", sa.String(length=255), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("charge_point_id", name=op.f("pk_site_members")),
    )
    op.create_index(op.f("ix_site_members_site_id"), "site_members", ["site_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_site_members_site_id"), table_name="site_members")
    op.drop_table("site_members")
    op.drop_table("sites")
