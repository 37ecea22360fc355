"""The gateway's own store: one object holding the engine and the repositories."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from types import TracebackType

from gateway.auth import Passwords
from gateway.store.accounts import Accounts
from gateway.store.audit import AuditLog, AuditRetention, keyed
from gateway.store.database import Database, create_engine, now
from gateway.store.employers import Employers
from gateway.store.registrations import Registrations


class Store:
    """Accounts, employers, registrations and the audit log in one database
    (SQLite or PostgreSQL).

    ``await Store.open(url)`` connects and migrates; ``await store.close()``
    (or ``async with``) releases the connections.
    """

    def __init__(
        self,
        db: Database,
        passwords: Passwords,
        audit_key: bytes | None,
        audit_retention: AuditRetention | None = None,
    ) -> None:
        self.db = db
        self.accounts = Accounts(db, passwords)
        self.employers = Employers(db)
        self._audit = AuditLog(db, audit_key, audit_retention) if audit_key is not None else None
        self.registrations = Registrations(db, self._audit)

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        passwords: Passwords | None = None,
        audit_key: bytes | None = None,
        audit_retention: AuditRetention | None = None,
        migrate: bool = True,
        clock: Callable[[], dt.datetime] = now,
    ) -> Store:
        """Connect to ``url`` (``sqlite+aiosqlite:///path`` creates the file's folder)
        and bring the schema up to date.

        ``audit_key`` (``HRSS_AUDIT_KEY``) keys the worker hashes of the audit
        log; a store opened without it (the accounts command) has no audit log.
        ``clock`` stamps the rows the store dates itself (the engine passes its own).
        """
        db = Database(create_engine(url), clock)
        try:
            passwords = passwords or Passwords()
            store = cls(db, passwords, audit_key, audit_retention)
            if migrate:
                await db.migrate()
            if store._audit is not None:
                await store._audit.check_key()
            # The first unknown-user login must not be slower than the next ones.
            await passwords.prepare()
        except BaseException:
            await db.close()
            raise
        return store

    @property
    def audit(self) -> AuditLog:
        return keyed(self._audit)

    @property
    def audited(self) -> bool:
        """Whether the store was opened with its audit key (a command may not be)."""
        return self._audit is not None

    async def migrate(self) -> None:
        await self.db.migrate()

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
