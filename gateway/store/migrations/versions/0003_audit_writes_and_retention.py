"""The audit log records writes and the gateway's own acts, and can be purged.

Records gain the registration they concern (``reference``) and a JSON
``detail``; actor, channel and worker become optional (a purge has none); the
head keeps the checkpoint a purge leaves (``base_id``, ``base_hash``).

Revision ID: 0003
Revises: 0002
Create Date: 2024-07-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIMESTAMP = sa.DateTime(timezone=True)
_GENESIS = "0" * 64
_CHANNELS = "channel IN ('government_portal', 'employment_service_hall', 'service_window')"
_RESULTS = "result IN ('allowed', 'refused', 'not_found')"
_ACTOR_WHOLE = (
    "(actor_id IS NULL) = (actor_username IS NULL) AND (actor_id IS NULL) = (actor_role IS NULL)"
)
_WORKER_WHOLE = (
    "(worker_key IS NULL) = (worker_id_type IS NULL) "
    "AND (worker_key IS NULL) = (worker_masked IS NULL)"
)
_OPTIONAL = (
    ("actor_id", sa.Integer()),
    ("actor_username", sa.String(64)),
    ("actor_role", sa.String(16)),
    ("worker_id_type", sa.String(32)),
    ("worker_masked", sa.String(32)),
    ("worker_key", sa.String(64)),
    ("channel", sa.String(32)),
)


def _records_as_of_0001() -> sa.Table:
    # SQLite rebuilds the table to change a column; given the table as it is,
    # the rebuild keeps its CHECK constraints, which reflection would lose.
    return sa.Table(
        "audit_records",
        sa.MetaData(),
        sa.Column("id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("at", _TIMESTAMP, nullable=False),
        sa.Column("actor_id", sa.Integer, nullable=False),
        sa.Column("actor_username", sa.String(64), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("worker_id_type", sa.String(32), nullable=False),
        sa.Column("worker_masked", sa.String(32), nullable=False),
        sa.Column("worker_key", sa.String(64), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_records"),
        sa.CheckConstraint(_CHANNELS, name="ck_audit_records_channel"),
        sa.CheckConstraint(_RESULTS, name="ck_audit_records_result"),
        sa.Index("ix_audit_records_at", "at"),
        sa.Index("ix_audit_records_actor_id", "actor_id"),
        sa.Index("ix_audit_records_worker_key", "worker_key"),
        sa.Index("ix_audit_records_credit_code", "credit_code"),
    )


def upgrade() -> None:
    with op.batch_alter_table("audit_records", copy_from=_records_as_of_0001()) as batch:
        for name, type_ in _OPTIONAL:
            batch.alter_column(name, existing_type=type_, nullable=True)
        batch.add_column(sa.Column("reference", sa.String(64), nullable=True))
        batch.add_column(sa.Column("detail", sa.Text, nullable=True))
        batch.create_check_constraint("ck_audit_records_actor_whole", _ACTOR_WHOLE)
        batch.create_check_constraint("ck_audit_records_worker_whole", _WORKER_WHOLE)
        batch.create_index("ix_audit_records_action", ["action"])
        batch.create_index("ix_audit_records_reference", ["reference"])
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(
            sa.Column("base_id", sa.BigInteger, nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(
            sa.Column("base_hash", sa.String(64), nullable=False, server_default=_GENESIS)
        )


def downgrade() -> None:
    # Only possible while no record lacks an actor, channel or worker.
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("base_hash")
        batch.drop_column("base_id")
    with op.batch_alter_table("audit_records") as batch:
        batch.drop_index("ix_audit_records_reference")
        batch.drop_index("ix_audit_records_action")
        batch.drop_constraint("ck_audit_records_worker_whole", type_="check")
        batch.drop_constraint("ck_audit_records_actor_whole", type_="check")
        batch.drop_column("detail")
        batch.drop_column("reference")
        for name, type_ in _OPTIONAL:
            batch.alter_column(name, existing_type=type_, nullable=False)
