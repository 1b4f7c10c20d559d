"""charge points' security profile and security extension; security events

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("charge_points") as batch:
        batch.add_column(
            sa.Column("security_profile", sa.SmallInteger, nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("security_extension", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_table(
        "security_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("charge_point_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(50), nullable=False),
        sa.Column("tech_info", sa.String(255)),
        sa.Column("critical", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_security_events"),
    )
    op.create_index(
        "ix_security_events_charge_point_id", "security_events", ["charge_point_id", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_security_events_charge_point_id", table_name="security_events")
    op.drop_table("security_events")
    with op.batch_alter_table("charge_points") as batch:
        batch.drop_column("security_extension")
        batch.drop_column("security_profile")
