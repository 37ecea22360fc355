"""Accounts: a password an administrator gave is changed before anything else, and
when each account last signed in.

``accounts.password_must_change``: set when an administrator makes a clerk or
sets its password in the graph (the administrator knows it), cleared when the
clerk changes it; until then the clerk's sessions may only change it.
``accounts.last_signed_in_at``: the last sign-in with a password, for an
administrator to find the accounts nobody uses any more (NULL: never).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "accounts",
        sa.Column("password_must_change", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column("accounts", sa.Column("last_signed_in_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("last_signed_in_at")
        batch.drop_column("password_must_change")
