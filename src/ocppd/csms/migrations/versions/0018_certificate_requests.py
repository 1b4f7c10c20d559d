"""chargers' certificate requests; a charger's own certificate signing policy

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("charge_points") as batch:
        batch.add_column(sa.Column("certificate_signing", sa.String(8)))
    op.create_table(
        "certificate_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("charge_point_id", sa.String(255), nullable=False),
        sa.Column("csr", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text()),
        sa.Column("key_type", sa.String(8)),
        sa.Column("key_bits", sa.Integer),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("serial_number", sa.String(64)),
        sa.Column("certificate", sa.Text()),
        sa.Column("charger_answer", sa.String(16)),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("in_use_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_certificate_requests"),
    )
    op.create_index(
        "ix_certificate_requests_charge_point_id", "certificate_requests", ["charge_point_id", "id"]
    )
    op.create_index("ix_certificate_requests_status", "certificate_requests", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_certificate_requests_status", table_name="certificate_requests")
    op.drop_index("ix_certificate_requests_charge_point_id", table_name="certificate_requests")
    op.drop_table("certificate_requests")
    with op.batch_alter_table("charge_points") as batch:
        batch.drop_column("certificate_signing")
