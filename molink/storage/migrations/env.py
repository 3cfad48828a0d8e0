"""Alembic environment: runs on the connection handed over by ``molink.storage.migrate``."""

from __future__ import annotations

from alembic import context

from molink.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via molink.storage.migrate
    raise RuntimeError("run migrations through molink.storage.migrate")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
