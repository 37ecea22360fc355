"""Steps say whether they are core or a follow-up.

A registration's core steps stand or fall together; a follow-up (the worker's
unemployment registration after an ending) waits for the core and never undoes
it. Steps stored before this revision are core, except the unemployment
registration of an ending, which was always the follow-up of its dismissal and
contract ending. Alone (separate handling) it is the whole business: core.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIMESTAMP = sa.DateTime(timezone=True)


def _one_of(column: str, *values: str) -> str:
    # Spelled out here rather than imported: a migration must not change when
    # tables.py does.
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


_KIND = _one_of("kind", "CORE", "FOLLOW_UP")


def _steps(*, with_kind: bool) -> sa.Table:
    # SQLite rebuilds the table to change its constraints; given the table as it
    # is (before this revision, or after it), the rebuild keeps the constraints
    # that reflection would lose. As 0004 left it: any registered system and
    # operation, the CHECK on ``state`` under the name 0002 gave it.
    kind: list[Any] = []
    if with_kind:
        kind = [
            sa.Column("kind", sa.String(16), nullable=False, server_default="CORE"),
            sa.CheckConstraint(_KIND, name="ck_steps_kind"),
        ]
    return sa.Table(
        "steps",
        sa.MetaData(),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("registration_id", sa.String(64), nullable=False),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("system", sa.String(32), nullable=False),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("stage", sa.Integer, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(128), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", _TIMESTAMP, nullable=True),
        sa.Column("deadline_at", _TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_until", _TIMESTAMP, nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.Column("finished_at", _TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_steps"),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name="fk_steps_registration_id_registrations",
        ),
        sa.CheckConstraint(
            _one_of(
                "state",
                "PENDING",
                "SENDING",
                "UNKNOWN",
                "DONE",
                "REFUSED",
                "UNDOING",
                "UNDONE",
                "SKIPPED",
                "STUCK",
            ),
            name="ck_steps_ck_steps_state",
        ),
        sa.Index("ix_steps_registration_id", "registration_id"),
        sa.Index("ix_steps_state_next_attempt_at", "state", "next_attempt_at"),
        *kind,
    )


def upgrade() -> None:
    with op.batch_alter_table("steps", copy_from=_steps(with_kind=False)) as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="CORE"))
        batch.create_check_constraint("ck_steps_kind", _KIND)
    steps = sa.table(
        "steps", sa.column("kind"), sa.column("operation"), sa.column("registration_id")
    )
    registrations = sa.table("registrations", sa.column("id"), sa.column("business"))
    op.execute(
        steps.update()
        .where(
            steps.c.operation == "REGISTER_UNEMPLOYMENT",
            steps.c.registration_id.in_(
                sa.select(registrations.c.id).where(registrations.c.business == "END")
            ),
        )
        .values(kind="FOLLOW_UP")
    )


def downgrade() -> None:
    with op.batch_alter_table("steps", copy_from=_steps(with_kind=True)) as batch:
        batch.drop_constraint("ck_steps_kind", type_="check")
        batch.drop_column("kind")
