"""An employer's id in each system is a row; steps name any registered system.

``employer_systems`` holds (credit_code, system, employer_id): one id per unit
and system, one unit per id in a system. The ids held in the ``employers``
columns ``employment_id``, ``labour_id`` and ``unemployment_id`` move there,
and the columns go. ``steps`` loses its CHECKs on ``system`` and ``operation``:
the systems and their operations are those registered when the gateway runs
(``gateway.registry``), not a list fixed in the schema; its ``system`` column
takes names up to 32 characters.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIMESTAMP = sa.DateTime(timezone=True)

#: The columns of 0001 and the system each held the unit's id in.
_COLUMNS = (
    ("employment_id", "employment"),
    ("labour_id", "labour"),
    ("unemployment_id", "unemployment"),
)


def _one_of(column: str, *values: str) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _steps_as_of_0002() -> sa.Table:
    # SQLite rebuilds the table to drop a constraint; given the table as it is,
    # the rebuild keeps the CHECK on ``state``, which reflection would lose. The
    # names are those 0002 gave (the naming convention applied to its names).
    return sa.Table(
        "steps",
        sa.MetaData(),
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
            _one_of("system", "employment", "labour", "unemployment"),
            name="ck_steps_ck_steps_system",
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
            name="ck_steps_ck_steps_operation",
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
    )


def _lightweight() -> tuple[sa.TableClause, sa.TableClause]:
    """The two tables as the data moves between them (no schema of their own)."""
    employers = sa.table(
        "employers", sa.column("credit_code"), *(sa.column(c) for c, _ in _COLUMNS)
    )
    bindings = sa.table(
        "employer_systems",
        sa.column("credit_code"),
        sa.column("system"),
        sa.column("employer_id"),
    )
    return employers, bindings


def upgrade() -> None:
    op.create_table(
        "employer_systems",
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("system", sa.String(32), nullable=False),
        sa.Column("employer_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("credit_code", "system", name="pk_employer_systems"),
        sa.ForeignKeyConstraint(
            ["credit_code"],
            ["employers.credit_code"],
            name="fk_employer_systems_credit_code_employers",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("system", "employer_id", name="uq_employer_systems_system_employer_id"),
    )
    employers, bindings = _lightweight()
    for column, system in _COLUMNS:
        op.execute(
            bindings.insert().from_select(
                ["credit_code", "system", "employer_id"],
                sa.select(employers.c.credit_code, sa.literal(system), employers.c[column]).where(
                    employers.c[column].is_not(None)
                ),
            )
        )
    with op.batch_alter_table("employers") as batch:
        for column, _ in _COLUMNS:
            batch.drop_constraint(op.f(f"uq_employers_{column}"), type_="unique")
            batch.drop_column(column)
    with op.batch_alter_table("steps", copy_from=_steps_as_of_0002()) as batch:
        batch.drop_constraint(op.f("ck_steps_ck_steps_system"), type_="check")
        batch.drop_constraint(op.f("ck_steps_ck_steps_operation"), type_="check")
        batch.alter_column("system", existing_type=sa.String(16), type_=sa.String(32))


def downgrade() -> None:
    # Only possible while every step and binding is of the three systems of 0001.
    with op.batch_alter_table("steps") as batch:
        batch.alter_column("system", existing_type=sa.String(32), type_=sa.String(16))
        batch.create_check_constraint(
            "ck_steps_system", _one_of("system", *(s for _, s in _COLUMNS))
        )
        batch.create_check_constraint(
            "ck_steps_operation",
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
        )
    with op.batch_alter_table("employers") as batch:
        for column, _ in _COLUMNS:
            batch.add_column(sa.Column(column, sa.String(64), nullable=True))
            batch.create_unique_constraint(f"uq_employers_{column}", [column])
    employers, bindings = _lightweight()
    for column, system in _COLUMNS:
        op.execute(
            sa.update(employers).values(
                {
                    column: sa.select(bindings.c.employer_id)
                    .where(
                        bindings.c.credit_code == employers.c.credit_code,
                        bindings.c.system == system,
                    )
                    .scalar_subquery()
                }
            )
        )
    op.drop_table("employer_systems")
