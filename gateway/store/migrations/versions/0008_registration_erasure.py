"""A finished registration's personal data are erased after its retention period.

``registrations.erased_at``: when the ID and mobile numbers of its payloads were
masked and the addresses blanked (NULL: not yet), with an index for the periodic
erasure to find the finished registrations past their retention without reading
the others.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    erased_at = sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True)
    op.add_column("registrations", erased_at)
    op.create_index(
        "ix_registrations_erasable", "registrations", ["erased_at", "state", "updated_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_registrations_erasable", table_name="registrations")
    with op.batch_alter_table("registrations") as batch:
        batch.drop_column("erased_at")
