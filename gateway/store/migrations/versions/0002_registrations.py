"""Integrated registrations: submissions and their idempotency keys, registrations,
their steps, and the locks that keep one unfinished registration per worker.

Revision ID: 0002
Revises: 0001
Create Date: 2024-06-15
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIMESTAMP = sa.DateTime(timezone=True)


def _one_of(column: str, *values: str) -> str:
    # Spelled out here rather than imported: a migration must not change when
    # tables.py does.
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "submissions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("actor_id", sa.Integer, nullable=True),
        sa.Column("actor_scope", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("expires_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_submissions"),
        sa.UniqueConstraint(
            "actor_scope",
            "idempotency_key",
            name="uq_submissions_actor_scope_idempotency_key",
        ),
    )
    op.create_index("ix_submissions_expires_at", "submissions", ["expires_at"])

    op.create_table(
        "registrations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("submission_id", sa.String(64), nullable=False),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("business", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("division", sa.String(6), nullable=False),
        sa.Column("person_key", sa.String(100), nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("actor_id", sa.Integer, nullable=True),
        sa.Column("actor_username", sa.String(64), nullable=True),
        sa.Column("warnings", sa.Text, nullable=False),
        sa.Column("failure", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_registrations"),
        sa.CheckConstraint(
            _one_of("business", "OPEN_ACCOUNT", "HIRE", "RENEW", "END", "SEPARATE"),
            name="ck_registrations_business",
        ),
        sa.CheckConstraint(
            _one_of(
                "state",
                "ACCEPTED",
                "IN_PROGRESS",
                "COMPLETED",
                "COMPENSATING",
                "COMPENSATED",
                "NEEDS_ATTENTION",
                "CANCELLED",
            ),
            name="ck_registrations_state",
        ),
        sa.CheckConstraint(
            _one_of("channel", "government_portal", "employment_service_hall", "service_window"),
            name="ck_registrations_channel",
        ),
    )
    op.create_index("ix_registrations_submission_id", "registrations", ["submission_id"])
    op.create_index("ix_registrations_credit_code", "registrations", ["credit_code"])
    op.create_index("ix_registrations_division", "registrations", ["division"])
    op.create_index("ix_registrations_person_key", "registrations", ["person_key"])
    op.create_index("ix_registrations_created_at_id", "registrations", ["created_at", "id"])

    op.create_table(
        "steps",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("registration_id", sa.String(64), nullable=False),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("system", sa.String(16), nullable=False),
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
            _one_of("system", "employment", "labour", "unemployment"), name="ck_steps_system"
        ),
        sa.CheckConstraint(
            _one_of(
                "operation",
                "OPEN_EMPLOYER",
                "REGISTER_EMPLOYMENT",
                "DISMISS",
                "FILE_CONTRACT",
                "RENEW_CONTRACT",
                "END_CONTRACT",
                "REGISTER_UNEMPLOYMENT",
            ),
            name="ck_steps_operation",
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
            name="ck_steps_state",
        ),
    )
    op.create_index("ix_steps_registration_id", "steps", ["registration_id"])
    op.create_index("ix_steps_state_next_attempt_at", "steps", ["state", "next_attempt_at"])

    op.create_table(
        "worker_locks",
        sa.Column("person_key", sa.String(100), nullable=False),
        sa.Column("registration_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("person_key", name="pk_worker_locks"),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name="fk_worker_locks_registration_id_registrations",
        ),
    )
    op.create_index("ix_worker_locks_registration_id", "worker_locks", ["registration_id"])


def downgrade() -> None:
    op.drop_table("worker_locks")
    op.drop_table("steps")
    op.drop_table("registrations")
    op.drop_table("submissions")
