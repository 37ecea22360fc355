"""Steps found by the record they hold in their system.

``ix_steps_system_reference``: which registration's step holds a system's
reference (``Registrations.held_by``), asked when reconciliation finds a record
matching a write whose outcome was unknown, so that a record another
registration holds is never taken (and undone) as this one's.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_steps_system_reference", "steps", ["system", "reference"])


def downgrade() -> None:
    op.drop_index("ix_steps_system_reference", table_name="steps")
