"""Alembic environment: migrations run on a connection that ocppd hands over."""

from alembic import context

from ocppd.csms.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through `ocppd db upgrade` (ocppd.csms.database.upgrade)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
