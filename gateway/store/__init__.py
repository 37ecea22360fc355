"""The gateway's own store: accounts, employers and their system ids, the audit log,
and integrated registrations with their steps and idempotency keys.

SQLAlchemy Core on an async engine, embedded SQLite by default and PostgreSQL
when configured, with Alembic migrations applied at start-up.
"""

from gateway.auth import Role
from gateway.store.accounts import Accounts
from gateway.store.audit import AuditLog, worker_key
from gateway.store.employers import Employers
from gateway.store.model import (
    Account,
    AccountNotFound,
    AuditRecord,
    AuditResult,
    BindingConflict,
    ChainCheck,
    Channel,
    CursorPage,
    DuplicateUsername,
    EmployerNotFound,
    EmployerRecord,
    InvalidAccount,
    InvalidCursor,
    InvalidRecord,
    StoreError,
    WeakPassword,
    covers_division,
)
from gateway.store.paging import MAX_PAGE
from gateway.store.registrations import (
    RegistrationNotFound,
    Registrations,
    StepNotFound,
)
from gateway.store.store import Store

#: Where the store lives unless ``--store`` or ``HRSS_STORE_URL`` says otherwise.
DEFAULT_STORE_URL = "sqlite+aiosqlite:///data/gateway.db"

__all__ = [
    "DEFAULT_STORE_URL",
    "MAX_PAGE",
    "Account",
    "AccountNotFound",
    "Accounts",
    "AuditLog",
    "AuditRecord",
    "AuditResult",
    "BindingConflict",
    "ChainCheck",
    "Channel",
    "CursorPage",
    "DuplicateUsername",
    "EmployerNotFound",
    "EmployerRecord",
    "Employers",
    "InvalidAccount",
    "InvalidCursor",
    "InvalidRecord",
    "RegistrationNotFound",
    "Registrations",
    "Role",
    "StepNotFound",
    "Store",
    "StoreError",
    "WeakPassword",
    "covers_division",
    "worker_key",
]
