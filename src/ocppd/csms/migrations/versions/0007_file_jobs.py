"""diagnostics and firmware jobs with status history; firmware images

The old `jobs` table (the latest status per charge point and kind) becomes one ended job per
row, with its status as the only history entry.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    old = sa.table(
        "jobs",
        sa.column("charge_point_id", sa.String),
        sa.column("kind", sa.String),
        sa.column("status", sa.String),
        sa.column("updated_at", Timestamp),
    )
    kept = [row._asdict() for row in op.get_bind().execute(sa.select(old)).all()]
    op.drop_table("jobs")
    op.create_table(
        "jobs",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("charge_point_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("start_time", Timestamp, nullable=True),
        sa.Column("stop_time", Timestamp, nullable=True),
        sa.Column("retrieve_date", Timestamp, nullable=True),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("retry_interval", sa.Integer(), nullable=True),
        sa.Column("firmware_id", sa.BigInteger(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("token_expires_at", Timestamp, nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("file_received_at", Timestamp, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("ended_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_jobs_token_hash")),
    )
    op.create_index("ix_jobs_charge_point", "jobs", ["charge_point_id", "kind", "id"])
    op.create_table(
        "job_statuses",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("charge_point_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("received_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_statuses")),
    )
    op.create_index(op.f("ix_job_statuses_job_id"), "job_statuses", ["job_id"])
    op.create_table(
        "firmware",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware")),
    )
    for row in sorted(kept, key=lambda r: r["updated_at"]):
        _carry_over(row)


def _carry_over(row: dict[str, object]) -> None:
    """An old row as an ended job with one status."""
    jobs = sa.table(
        "jobs",
        sa.column("id", BigId),
        sa.column("charge_point_id", sa.String),
        sa.column("kind", sa.String),
        sa.column("status", sa.String),
        sa.column("created_at", Timestamp),
        sa.column("updated_at", Timestamp),
        sa.column("ended_at", Timestamp),
    )
    statuses = sa.table(
        "job_statuses",
        sa.column("job_id", sa.BigInteger),
        sa.column("charge_point_id", sa.String),
        sa.column("kind", sa.String),
        sa.column("status", sa.String),
        sa.column("received_at", Timestamp),
    )
    at = row["updated_at"]
    job = {**row, "created_at": at, "ended_at": at}
    job_id = op.get_bind().execute(jobs.insert().values(job).returning(jobs.c.id)).scalar_one()
    history = {k: row[k] for k in ("charge_point_id", "kind", "status")}
    op.get_bind().execute(statuses.insert().values(job_id=job_id, received_at=at, **history))


def downgrade() -> None:
    op.drop_table("firmware")
    op.drop_index(op.f("ix_job_statuses_job_id"), table_name="job_statuses")
    op.drop_table("job_statuses")
    op.drop_index("ix_jobs_charge_point", table_name="jobs")
    op.drop_table("jobs")
    op.create_table(
        "jobs",
        sa.Column("charge_point_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("charge_point_id", "kind", name=op.f("pk_jobs")),
    )
