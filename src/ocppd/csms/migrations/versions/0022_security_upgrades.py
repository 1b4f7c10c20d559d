"""security upgrades kept in the database: any node shows them, a restart keeps them

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 02:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "security_upgrades",
        sa.Column("charge_point_id", sa.String(255), nullable=False),
        sa.Column("profile", sa.SmallInteger, nullable=False),
        sa.Column("previous", sa.SmallInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("node", sa.String(255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("steps", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("charge_point_id", name="pk_security_upgrades"),
    )


def downgrade() -> None:
    op.drop_table("security_upgrades")
