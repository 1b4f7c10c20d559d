"""charging profiles and composite schedule checks

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "charging_profiles",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("charge_point_id", sa.String(length=255), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("charging_profile_id", sa.BigInteger(), nullable=False),
        sa.Column("stack_level", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("recurrency_kind", sa.String(length=16), nullable=True),
        sa.Column("unit", sa.String(length=1), nullable=False),
        sa.Column("valid_from", Timestamp, nullable=True),
        sa.Column("valid_to", Timestamp, nullable=True),
        sa.Column("transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("id_tag", sa.String(length=20), nullable=True),
        sa.Column("profile", sa.Text(), nullable=False),
        sa.Column("installed_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charging_profiles")),
    )
    op.create_index(
        "ix_charging_profiles_charge_point",
        "charging_profiles",
        ["charge_point_id", "connector_id"],
    )
    op.create_table(
        "composite_checks",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("charge_point_id", sa.String(length=255), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("checked_at", Timestamp, nullable=False),
        sa.Column("schedule_start", Timestamp, nullable=False),
        sa.Column("duration", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.String(length=1), nullable=False),
        sa.Column("matches", sa.Boolean(), nullable=False),
        sa.Column("mismatch_at", Timestamp, nullable=True),
        sa.Column("predicted_limit", sa.Float(), nullable=True),
        sa.Column("reported_limit", sa.Float(), nullable=True),
        sa.Column("reported", sa.Text(), nullable=False),
        sa.Column("predicted", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_composite_checks")),
    )
    op.create_index(
        "ix_composite_checks_charge_point",
        "composite_checks",
        ["charge_point_id", "connector_id", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_composite_checks_charge_point", table_name="composite_checks")
    op.drop_table("composite_checks")
    op.drop_index("ix_charging_profiles_charge_point", table_name="charging_profiles")
    op.drop_table("charging_profiles")
