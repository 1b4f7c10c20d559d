"""id_tags: the members of a group by folded parentIdTag, indexed

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_id_tags_parent", "id_tags", [sa.text("lower(parent_id_tag)")])


def downgrade() -> None:
    op.drop_index("ix_id_tags_parent", table_name="id_tags")
