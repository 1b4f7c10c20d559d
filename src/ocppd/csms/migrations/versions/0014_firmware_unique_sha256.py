"""firmware: one image per SHA-256 (the same bytes uploaded again answer the image kept)

Images uploaded twice before this (same sha256) become one: the first (lowest id) stays, the
jobs of the others now refer to it (the same bytes), and the others' rows are removed. Their
files stay under the data directory (a migration does not know where it is): unused copies.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 18:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIRST_OF_ITS_BYTES = "(SELECT min(f.id) FROM firmware f WHERE f.sha256 = firmware.sha256)"


def upgrade() -> None:
    op.execute(
        "UPDATE jobs SET firmware_id = (SELECT min(f.id) FROM firmware f WHERE f.sha256 = "
        "(SELECT sha256 FROM firmware WHERE firmware.id = jobs.firmware_id)) "
        "WHERE firmware_id IN (SELECT id FROM firmware)"
    )
    op.execute(f"DELETE FROM firmware WHERE id <> {FIRST_OF_ITS_BYTES}")
    op.create_index("ix_firmware_sha256", "firmware", ["sha256"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_firmware_sha256", table_name="firmware")
