"""Alembic's environment: runs on the connection that ``Database.migrate`` passes in.

There is no offline (SQL script) mode and no URL here: the store migrates
itself at start-up, inside a transaction it already holds.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from gateway.store.tables import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, sa.Connection):
    raise RuntimeError(
        "run migrations through gateway.store (Database.migrate), not the alembic command"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot alter most of a table; batch mode rebuilds it, on SQLite only.
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
