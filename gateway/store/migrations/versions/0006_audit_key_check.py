"""The audit log remembers which key its worker hashes were made with.

``audit_head.key_check`` holds a keyed hash of a fixed text under the audit key
(``HRSS_AUDIT_KEY``); the first process that opens the store with a key writes
it, and a process with another key is refused (``AuditLog.check_key``). A store
upgraded from an earlier revision takes the key of the first process that opens
it after the upgrade.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_head", sa.Column("key_check", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("key_check")
