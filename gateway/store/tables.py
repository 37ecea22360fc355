"""The gateway's own tables, defined once for SQLAlchemy Core and for Alembic.

Every schema change is a migration in ``migrations/versions`` that brings the
database to what this module says; a test compares the two on SQLite and on
PostgreSQL. Only portable types: the same code runs on both.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

# Constraint names are spelled out so that migrations can refer to them and
# SQLite's batch mode can rebuild tables without losing them.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """An aware UTC timestamp on every backend.

    PostgreSQL keeps the zone; SQLite keeps text without one, so values are
    converted to UTC before they are written and marked UTC when read back.
    Both then compare and sort in time order.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps given to the store must be timezone-aware")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


ROLES = ("employer", "clerk", "admin")
CHANNELS = ("government_portal", "employment_service_hall", "service_window")
AUDIT_RESULTS = ("allowed", "refused", "not_found")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


employers = sa.Table(
    "employers",
    metadata,
    sa.Column("credit_code", sa.String(18), primary_key=True),  # GB 32100
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("division", sa.String(6), nullable=False, index=True),  # GB/T 2260
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# The unit's id in each system, one row per system that knows it (no row: not
# bound yet): one id per unit and system, and one unit per id in a system.
# ``system`` is a registered system's name (``gateway.registry``).
employer_systems = sa.Table(
    "employer_systems",
    metadata,
    sa.Column(
        "credit_code",
        sa.String(18),
        sa.ForeignKey("employers.credit_code", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("employer_id", sa.String(64), nullable=False),
    sa.UniqueConstraint("system", "employer_id"),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("display_name", sa.String(200), nullable=True),
    sa.Column(
        "credit_code",
        sa.String(18),
        sa.ForeignKey("employers.credit_code"),
        nullable=True,
        index=True,
    ),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # When its sessions were last ended (its password set, the account disabled):
    # tokens issued before it are refused.
    sa.Column("credentials_changed_at", UTCDateTime(), nullable=True),
    # Given by an administrator: its sessions may only change it until it is.
    sa.Column("password_must_change", sa.Boolean, nullable=False, server_default=sa.false()),
    # The last sign-in with a password (NULL: never), for finding unused accounts.
    sa.Column("last_signed_in_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint(_one_of("role", ROLES), name="role"),
    # An employer account is its unit's; nobody else's is bound to a unit.
    sa.CheckConstraint(
        "(role = 'employer') = (credit_code IS NOT NULL)", name="employer_has_credit_code"
    ),
)

account_divisions = sa.Table(
    "account_divisions",
    metadata,
    sa.Column(
        "account_id",
        sa.Integer,
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("division", sa.String(6), primary_key=True),
)

# Append-only, and chained: each record's hash covers its content and the hash
# of the record before it, so that an edit or a removal shows (issue 5). The id
# is the position in the chain, given out under the lock of ``audit_head``.
# Records made by the gateway itself (a purge) have no actor, channel or worker.
audit_records = sa.Table(
    "audit_records",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", UTCDateTime(), nullable=False, index=True),
    sa.Column("actor_id", sa.Integer, nullable=True, index=True),
    # A snapshot: the record keeps saying who it was if the account changes later.
    sa.Column("actor_username", sa.String(64), nullable=True),
    sa.Column("actor_role", sa.String(16), nullable=True),
    sa.Column("action", sa.String(64), nullable=False, index=True),
    sa.Column("worker_id_type", sa.String(32), nullable=True),
    sa.Column("worker_masked", sa.String(32), nullable=True),
    # HMAC-SHA256 of "id_type:id_number" under the configured key, hex.
    sa.Column("worker_key", sa.String(64), nullable=True, index=True),
    sa.Column("credit_code", sa.String(18), nullable=True, index=True),
    sa.Column("channel", sa.String(32), nullable=True),
    sa.Column("result", sa.String(16), nullable=False),
    # What the record is about besides the worker: a registration's id.
    sa.Column("reference", sa.String(64), nullable=True, index=True),
    sa.Column("detail", sa.Text, nullable=True),  # JSON object, no personal data
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.CheckConstraint(_one_of("channel", CHANNELS), name="channel"),
    sa.CheckConstraint(_one_of("result", AUDIT_RESULTS), name="result"),
    sa.CheckConstraint(
        "(actor_id IS NULL) = (actor_username IS NULL) "
        "AND (actor_id IS NULL) = (actor_role IS NULL)",
        name="actor_whole",
    ),
    sa.CheckConstraint(
        "(worker_key IS NULL) = (worker_id_type IS NULL) "
        "AND (worker_key IS NULL) = (worker_masked IS NULL)",
        name="worker_whole",
    ),
)

# One row: the end of the audit chain, and where it now begins. Appenders lock
# it (SELECT ... FOR UPDATE on PostgreSQL, the database write lock on SQLite),
# so the chain never forks. A purge removes the records up to ``base_id`` and
# keeps that record's hash in ``base_hash``: the checkpoint the chain is
# verified from (GENESIS: nothing purged yet).
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last_id", sa.BigInteger, nullable=False),
    sa.Column("last_hash", sa.String(64), nullable=False),
    sa.Column("base_id", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    sa.Column("base_hash", sa.String(64), nullable=False, server_default="0" * 64),
    # A keyed hash of a fixed text under the audit key the records' worker hashes
    # were made with (``AuditLog.check_key``); NULL until a keyed process first opens it.
    sa.Column("key_check", sa.String(64), nullable=True),
    sa.CheckConstraint("id = 1", name="single_row"),
)

#: ``prev_hash`` of the first audit record.
GENESIS_HASH = "0" * 64

# ------------------------------------------------------------- registrations
# Integrated registrations (issue 4). The values of the enumerations of
# ``gateway.registrations.model``, spelled out so that a migration can repeat them.

BUSINESSES = ("OPEN_ACCOUNT", "HIRE", "RENEW", "END", "SEPARATE")
REGISTRATION_STATES = (
    "ACCEPTED",
    "IN_PROGRESS",
    "COMPLETED",
    "COMPENSATING",
    "COMPENSATED",
    "NEEDS_ATTENTION",
    "CANCELLED",
)
STEP_STATES = (
    "PENDING",
    "SENDING",
    "UNKNOWN",
    "DONE",
    "REFUSED",
    "UNDOING",
    "UNDONE",
    "SKIPPED",
    "STUCK",
)
STEP_KINDS = ("CORE", "FOLLOW_UP")
# A step's system and operation are not listed here: they are those registered
# when the gateway runs (``gateway.registry``), which a deployment extends.

# One mutation call and its idempotency key. Keys are unique per actor; the
# scope is the actor id as text, or "anonymous": a NULL actor id would make
# every anonymous key distinct to the UNIQUE constraint, on both databases.
# Rows are deleted once expired; their registrations stay, hence no foreign
# key from ``registrations`` to here.
submissions = sa.Table(
    "submissions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("actor_id", sa.Integer, nullable=True),
    sa.Column("actor_scope", sa.String(32), nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    sa.UniqueConstraint("actor_scope", "idempotency_key"),
)

registrations = sa.Table(
    "registrations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("submission_id", sa.String(64), nullable=False, index=True),
    # Its place in the submission, so that a replay lists them as the first call did.
    sa.Column("ordinal", sa.Integer, nullable=False),
    sa.Column("business", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("credit_code", sa.String(18), nullable=False, index=True),
    sa.Column("division", sa.String(6), nullable=False, index=True),
    sa.Column("person_key", sa.String(100), nullable=True, index=True),
    sa.Column("payload", sa.Text, nullable=False),  # JSON
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("actor_id", sa.Integer, nullable=True),
    sa.Column("actor_username", sa.String(64), nullable=True),
    sa.Column("warnings", sa.Text, nullable=False),  # JSON list
    sa.Column("failure", sa.Text, nullable=True),  # JSON object
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # When its personal data were erased, its retention past (NULL: not yet).
    sa.Column("erased_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint(_one_of("business", BUSINESSES), name="business"),
    sa.CheckConstraint(_one_of("state", REGISTRATION_STATES), name="state"),
    sa.CheckConstraint(_one_of("channel", CHANNELS), name="channel"),
    # Newest first, with the id to break ties: the order of ``list`` and its cursors.
    sa.Index("ix_registrations_created_at_id", "created_at", "id"),
    # What the periodic erasure looks for: finished long ago, not yet erased.
    sa.Index("ix_registrations_erasable", "erased_at", "state", "updated_at"),
)

steps = sa.Table(
    "steps",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "registration_id",
        sa.String(64),
        sa.ForeignKey("registrations.id"),
        nullable=False,
        index=True,
    ),
    # Its place in the plan: steps of one stage are created at the same instant.
    sa.Column("ordinal", sa.Integer, nullable=False),
    sa.Column("system", sa.String(32), nullable=False),
    sa.Column("operation", sa.String(32), nullable=False),
    sa.Column("stage", sa.Integer, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # JSON
    sa.Column("state", sa.String(16), nullable=False),
    # Core steps stand or fall together; a follow-up never undoes them.
    sa.Column("kind", sa.String(16), nullable=False, server_default="CORE"),
    sa.Column("reference", sa.String(128), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
    sa.Column("deadline_at", UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),  # JSON object
    sa.Column("lease_owner", sa.String(128), nullable=True),
    sa.Column("lease_until", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint(_one_of("state", STEP_STATES), name="state"),
    sa.CheckConstraint(_one_of("kind", STEP_KINDS), name="kind"),
    # What ``claim`` looks for: due steps in the states a worker acts on.
    sa.Index("ix_steps_state_next_attempt_at", "state", "next_attempt_at"),
    # Which step holds a system's record (``held_by``): reconciliation's check
    # that a record found is not another registration's.
    sa.Index("ix_steps_system_reference", "system", "reference"),
)

# At most one unfinished registration per worker: the primary key decides
# between concurrent submissions, on both databases, without a read first.
# The row goes when its registration reaches a final state.
worker_locks = sa.Table(
    "worker_locks",
    metadata,
    sa.Column("person_key", sa.String(100), primary_key=True),
    sa.Column(
        "registration_id",
        sa.String(64),
        sa.ForeignKey("registrations.id"),
        nullable=False,
        index=True,
    ),
)
