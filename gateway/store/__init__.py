"""The gateway's own store: accounts, employers and their system ids, the audit log,
and integrated registrations with their steps and idempotency keys.

SQLAlchemy Core on an async engine, embedded SQLite by default and PostgreSQL
when configured, with Alembic migrations applied at start-up.
"""

from typing import TYPE_CHECKING, Any

# Where the store lives unless ``--store`` or ``HRSS_STORE_URL`` says otherwise.
from gateway.settings import DEFAULT_STORE_URL

if TYPE_CHECKING:
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

#: Where each name lives. Loaded on first use (PEP 562): ``gateway.store.model``
#: (plain dataclasses) must not pull SQLAlchemy and Alembic in through this
#: package, for the commands and stand-ins that only need those.
_HOMES = {
    "Role": "gateway.auth",
    "Accounts": "gateway.store.accounts",
    "AuditLog": "gateway.store.audit",
    "worker_key": "gateway.store.audit",
    "Employers": "gateway.store.employers",
    "MAX_PAGE": "gateway.store.paging",
    "RegistrationNotFound": "gateway.store.registrations",
    "Registrations": "gateway.store.registrations",
    "StepNotFound": "gateway.store.registrations",
    "Store": "gateway.store.store",
}


def __getattr__(name: str) -> Any:
    import importlib

    model = importlib.import_module("gateway.store.model")
    if hasattr(model, name) and name in __all__:
        return getattr(model, name)
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


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
