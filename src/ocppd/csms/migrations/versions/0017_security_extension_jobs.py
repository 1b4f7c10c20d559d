"""log and signed firmware jobs; the certificates chargers reported installed

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("request_id", sa.Integer))
        batch.add_column(sa.Column("log_type", sa.String(16)))
        batch.add_column(sa.Column("signature", sa.String(800)))
        batch.add_column(sa.Column("signing_certificate", sa.Text))
        batch.add_column(sa.Column("signed_by", sa.String(16)))
    op.create_table(
        "installed_certificates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("charge_point_id", sa.String(255), nullable=False),
        sa.Column("certificate_type", sa.String(32), nullable=False),
        sa.Column("hash_algorithm", sa.String(8), nullable=False),
        sa.Column("issuer_name_hash", sa.String(128), nullable=False),
        sa.Column("issuer_key_hash", sa.String(128), nullable=False),
        sa.Column("serial_number", sa.String(40), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_installed_certificates"),
    )
    op.create_index(
        "ix_installed_certificates_charge_point_id",
        "installed_certificates",
        ["charge_point_id", "certificate_type"],
    )


def downgrade() -> None:
    op.drop_index("ix_installed_certificates_charge_point_id", table_name="installed_certificates")
    op.drop_table("installed_certificates")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("signed_by")
        batch.drop_column("signing_certificate")
        batch.drop_column("signature")
        batch.drop_column("log_type")
        batch.drop_column("request_id")
