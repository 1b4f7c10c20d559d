"""file transfers over FTP: a charge point's default transport, a job's transport and the last
failed transfer of its file

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("charge_points") as batch:
        batch.add_column(
            sa.Column("file_transport", sa.String(8), nullable=False, server_default="http")
        )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(
            sa.Column("transport", sa.String(8), nullable=False, server_default="http")
        )
        batch.add_column(sa.Column("transfer_error", sa.String(255)))
        batch.add_column(sa.Column("transfer_error_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("transfer_error_at")
        batch.drop_column("transfer_error")
        batch.drop_column("transport")
    with op.batch_alter_table("charge_points") as batch:
        batch.drop_column("file_transport")
