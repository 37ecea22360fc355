"""Accounts, employers and their bindings, and the chained audit log.

Revision ID: 0001
Revises:
Create Date: 2024-06-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "employers",
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("division", sa.String(6), nullable=False),
        sa.Column("employment_id", sa.String(64), nullable=True),
        sa.Column("labour_id", sa.String(64), nullable=True),
        sa.Column("unemployment_id", sa.String(64), nullable=True),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("credit_code", name="pk_employers"),
        sa.UniqueConstraint("employment_id", name="uq_employers_employment_id"),
        sa.UniqueConstraint("labour_id", name="uq_employers_labour_id"),
        sa.UniqueConstraint("unemployment_id", name="uq_employers_unemployment_id"),
    )
    op.create_index("ix_employers_division", "employers", ["division"])

    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("credit_code", sa.String(18), nullable=True),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("username", name="uq_accounts_username"),
        sa.ForeignKeyConstraint(
            ["credit_code"],
            ["employers.credit_code"],
            name="fk_accounts_credit_code_employers",
        ),
        sa.CheckConstraint("role IN ('employer', 'clerk', 'admin')", name="ck_accounts_role"),
        sa.CheckConstraint(
            "(role = 'employer') = (credit_code IS NOT NULL)",
            name="ck_accounts_employer_has_credit_code",
        ),
    )
    op.create_index("ix_accounts_credit_code", "accounts", ["credit_code"])

    op.create_table(
        "account_divisions",
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("division", sa.String(6), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "division", name="pk_account_divisions"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_account_divisions_account_id_accounts",
            ondelete="CASCADE",
        ),
    )

    op.create_table(
        "audit_records",
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
        sa.CheckConstraint(
            "channel IN ('government_portal', 'employment_service_hall', 'service_window')",
            name="ck_audit_records_channel",
        ),
        sa.CheckConstraint(
            "result IN ('allowed', 'refused', 'not_found')", name="ck_audit_records_result"
        ),
    )
    op.create_index("ix_audit_records_at", "audit_records", ["at"])
    op.create_index("ix_audit_records_actor_id", "audit_records", ["actor_id"])
    op.create_index("ix_audit_records_worker_key", "audit_records", ["worker_key"])
    op.create_index("ix_audit_records_credit_code", "audit_records", ["credit_code"])

    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
        sa.CheckConstraint("id = 1", name="ck_audit_head_single_row"),
    )
    op.bulk_insert(head, [{"id": 1, "last_id": 0, "last_hash": "0" * 64}])


def downgrade() -> None:
    op.drop_table("audit_head")
    op.drop_table("audit_records")
    op.drop_table("account_divisions")
    op.drop_table("accounts")
    op.drop_table("employers")
