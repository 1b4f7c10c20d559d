"""certificate_requests by serial number: admission by serial-number CN looks one up

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 01:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_certificate_requests_serial_number", "certificate_requests", ["serial_number"]
    )


def downgrade() -> None:
    op.drop_index("ix_certificate_requests_serial_number", table_name="certificate_requests")
