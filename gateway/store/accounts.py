"""Accounts: who can sign in, in which role, bound to which unit or divisions."""

from __future__ import annotations

import builtins
import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.auth import Passwords, Role
from gateway.domain.checks import check_credit_code
from gateway.domain.limits import has_control_character
from gateway.passwords import MIN_PASSWORD_LENGTH, password_refusal
from gateway.store import tables as t
from gateway.store.database import Database
from gateway.store.model import (
    Account,
    AccountNotFound,
    DuplicateUsername,
    EmployerNotFound,
    InvalidAccount,
    WeakPassword,
    check_division,
)

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")

#: What is done to accounts (made, disabled, a password or divisions set): who may
#: sign in and act where is what an incident is traced back to. User names only.
log = logging.getLogger("gateway.accounts")

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "NO_PASSWORD",
    "Accounts",
    "check_new_account",
    "display_name_refusal",
    "employer_username",
    "normalize_username",
    "username_refusal",
]


#: What else a change to an account writes, in its transaction (the audit log's record).
Also = Callable[[AsyncConnection], Awaitable[None]]

#: Stored instead of a hash for an account without a password: no password
#: verifies against it (argon2 refuses it as a hash), so it cannot sign in with one.
NO_PASSWORD = "!"  # noqa: S105 (a marker, not a secret)


def employer_username(credit_code: str) -> str:
    """An employer account's user name: its unit's credit code. Nobody chooses it,
    so no answer can tell whether a chosen name is taken."""
    return credit_code.strip().lower()


def normalize_username(username: str) -> str:
    """Usernames compare without case, so that "Admin" cannot pose as "admin"."""
    return username.strip().lower()


class Accounts:
    """The ``accounts`` repository."""

    def __init__(self, db: Database, passwords: Passwords) -> None:
        self._db = db
        self._passwords = passwords

    async def create(
        self,
        username: str,
        password: str | None,
        role: Role | str,
        *,
        display_name: str | None = None,
        credit_code: str | None = None,
        divisions: Iterable[str] = (),
        by: str | None = None,
        must_change: bool = False,
        unit: Also | None = None,
        also: Also | None = None,
    ) -> Account:
        """A new account. ``DuplicateUsername`` if the name is taken, even by a
        concurrent call; ``EmployerNotFound`` if an employer's unit is unknown.
        ``password`` None: an account that signs in only through the identity
        platform (employers, where their passwords are off). ``by``: the
        administrator who made it, for the log; ``must_change``: the password is
        the administrator's, to be changed before anything else; ``unit``: run in
        the same transaction before an employer's unit is looked for (adding the unit
        the store has not met yet: ``Employers.add_in``), so that the account and its
        unit are stored together or not at all; ``also``: run in the same
        transaction (the audit log's record of the change)."""
        role = Role(role)
        name = normalize_username(username)
        codes = tuple(sorted({check_division(d) for d in divisions}))
        if password is None and role is not Role.EMPLOYER:
            raise InvalidAccount("only an employer account may have no password")
        _check_account(name, password, role, credit_code, codes)
        refusal = display_name_refusal(display_name)
        if refusal is not None:
            raise InvalidAccount(refusal)
        password_hash = NO_PASSWORD if password is None else await self._passwords.hash(password)
        try:
            async with self._db.write() as conn:
                if credit_code is not None:
                    if unit is not None:
                        await unit(conn)
                    known = await conn.scalar(
                        sa.select(t.employers.c.credit_code).where(
                            t.employers.c.credit_code == credit_code
                        )
                    )
                    if known is None:
                        raise EmployerNotFound(credit_code)
                account_id = await conn.scalar(
                    sa.insert(t.accounts)
                    .values(
                        username=name,
                        password_hash=password_hash,
                        role=role.value,
                        display_name=display_name,
                        credit_code=credit_code,
                        disabled=False,
                        created_at=self._db.now(),
                        password_must_change=must_change,
                    )
                    .returning(t.accounts.c.id)
                )
                if codes:
                    await conn.execute(
                        sa.insert(t.account_divisions),
                        [{"account_id": account_id, "division": d} for d in codes],
                    )
                if also is not None:
                    await also(conn)
        except sa.exc.IntegrityError:
            # The unique index is the only arbiter under concurrency; asking
            # afterwards tells a taken name from any other violation.
            if await self.get(name) is not None:
                raise DuplicateUsername(name) from None
            raise
        created = await self.get(name)
        assert created is not None
        log.info("account %s created (%s)%s", created.username, created.role.value, _by(by))
        return created

    async def get(self, username: str) -> Account | None:
        async with self._db.read() as conn:
            found = await _load(conn, t.accounts.c.username == normalize_username(username))
        return found[0] if found else None

    async def for_employer(self, credit_code: str) -> builtins.list[Account]:
        """The accounts of one employer (the gateway opens one per employer)."""
        async with self._db.read() as conn:
            return await _load(conn, t.accounts.c.credit_code == credit_code)

    async def of_employer(self, credit_code: str) -> Account | None:
        """The employer's one account (its user name is the unit's credit code, or,
        for accounts opened before that rule, the one bound to the unit)."""
        return next(iter(await self.for_employer(credit_code)), None)

    async def get_by_id(self, account_id: int) -> Account | None:
        async with self._db.read() as conn:
            found = await _load(conn, t.accounts.c.id == account_id)
        return found[0] if found else None

    async def list(self, role: Role | str | None = None) -> builtins.list[Account]:
        """Every account (of ``role``), by username."""
        where = sa.true() if role is None else t.accounts.c.role == Role(role).value
        async with self._db.read() as conn:
            return await _load(conn, where)

    async def set_disabled(
        self,
        username: str,
        disabled: bool = True,
        *,
        by: str | None = None,
        also: Also | None = None,
    ) -> Account:
        """Disable (or enable again) an account: a disabled one cannot sign in, and
        the sessions it had end for good (enabled again, it signs in anew: a token
        stolen before it was disabled must not come back to life)."""
        name = normalize_username(username)
        ended = {"credentials_changed_at": self._sessions_end()} if disabled else {}
        async with self._db.write() as conn:
            result = await conn.execute(
                sa.update(t.accounts)
                .where(t.accounts.c.username == name)
                .values(disabled=disabled, **ended)
            )
            if result.rowcount == 0:
                raise AccountNotFound(name)
            if also is not None:
                await also(conn)
        account = await self.get(name)
        assert account is not None
        log.info("account %s %s%s", name, "disabled" if disabled else "enabled", _by(by))
        return account

    async def set_password(
        self,
        username: str,
        password: str,
        *,
        by: str | None = None,
        must_change: bool = False,
        unit: Also | None = None,
        also: Also | None = None,
    ) -> Account:
        """A new password for a clerk or an administrator (a forgotten one, or one
        that may have leaked), checked as a new account's is. The gateway's tokens
        issued before it are refused from then on. Employers sign in through the
        identity platform: ``InvalidAccount``. ``must_change``: given by an
        administrator, to be changed before anything else (the account's own
        change clears it)."""
        account = await self._existing(username)
        if account.role is Role.EMPLOYER:
            raise InvalidAccount(
                "an employer signs in through the identity platform; its password is not set here"
            )
        refusal = password_refusal(password, account.username)
        if refusal is not None:
            raise WeakPassword(refusal.code, refusal.message_en, refusal.message_zh)
        password_hash = await self._passwords.hash(password)
        async with self._db.write() as conn:
            await conn.execute(
                sa.update(t.accounts)
                .where(t.accounts.c.id == account.id)
                .values(
                    password_hash=password_hash,
                    credentials_changed_at=self._sessions_end(),
                    password_must_change=must_change,
                )
            )
            if also is not None:
                await also(conn)
        log.info("account %s: password set%s; its earlier sessions end", account.username, _by(by))
        return await self._existing(username)

    async def set_divisions(
        self,
        username: str,
        divisions: Iterable[str],
        *,
        by: str | None = None,
        also: Also | None = None,
    ) -> Account:
        """The divisions a clerk's window acts for from now on (a clerk moved to
        another window); ``InvalidAccount`` for anyone but a clerk, or none given."""
        account = await self._existing(username)
        codes = tuple(sorted({check_division(d) for d in divisions}))
        _check_account(account.username, None, account.role, account.credit_code, codes)
        async with self._db.write() as conn:
            await conn.execute(
                sa.delete(t.account_divisions).where(t.account_divisions.c.account_id == account.id)
            )
            await conn.execute(
                sa.insert(t.account_divisions),
                [{"account_id": account.id, "division": d} for d in codes],
            )
            if also is not None:
                await also(conn)
        log.info("account %s now acts for %s%s", account.username, ",".join(codes), _by(by))
        return await self._existing(username)

    async def signed_in(self, account_id: int) -> None:
        """Record a sign-in with a password, now (``last_signed_in_at``)."""
        async with self._db.write() as conn:
            await conn.execute(
                sa.update(t.accounts)
                .where(t.accounts.c.id == account_id)
                .values(last_signed_in_at=self._db.now())
            )

    async def end_sessions(self, username: str) -> Account:
        """End every session of the account (a sign-out, everywhere): the gateway's
        tokens issued until now are refused from now on."""
        account = await self._existing(username)
        async with self._db.write() as conn:
            await conn.execute(
                sa.update(t.accounts)
                .where(t.accounts.c.id == account.id)
                .values(credentials_changed_at=self._sessions_end())
            )
        log.info("account %s signed out; its sessions end", account.username)
        return await self._existing(username)

    def _sessions_end(self) -> dt.datetime:
        """When the sessions of an account whose password is set (or which is
        disabled, or signed out) now end: the next whole second. A token's time is
        in whole seconds, so every token issued until now, this second's too, is
        older; a session opened from now on is issued at this time at the
        earliest (``gateway.schema.mutation``), and kept."""
        return self._db.now().replace(microsecond=0) + dt.timedelta(seconds=1)

    async def _existing(self, username: str) -> Account:
        account = await self.get(username)
        if account is None:
            raise AccountNotFound(normalize_username(username))
        return account

    async def authenticate(self, username: str, password: str) -> Account | None:
        """The account, if the password is right and the account enabled; else None.

        An unknown username costs the same hashing time as a known one, so that
        the answer's timing does not tell which part was wrong.
        """
        name = normalize_username(username)
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(t.accounts.c.id, t.accounts.c.password_hash).where(
                        t.accounts.c.username == name
                    )
                )
            ).one_or_none()
        if row is None or row.password_hash == NO_PASSWORD:
            await self._passwords.spend_one_verification(password)
            return None
        if not await self._passwords.verify(row.password_hash, password):
            return None
        if self._passwords.needs_rehash(row.password_hash):
            new_hash = await self._passwords.hash(password)
            async with self._db.write() as conn:
                # Only if unchanged meanwhile: a concurrent password change wins.
                await conn.execute(
                    sa.update(t.accounts)
                    .where(
                        t.accounts.c.id == row.id,
                        t.accounts.c.password_hash == row.password_hash,
                    )
                    .values(password_hash=new_hash)
                )
        account = await self.get_by_id(row.id)
        if account is None or account.disabled:
            return None
        return account


def check_new_account(username: str, password: str, role: Role | str, **binding: Any) -> None:
    """``InvalidAccount`` if ``create`` would refuse these, checked before anything is stored."""
    role = Role(role)
    divisions = tuple(binding.get("divisions", ()))
    _check_account(
        normalize_username(username), password, role, binding.get("credit_code"), divisions
    )


def username_refusal(username: str, role: Role) -> str | None:
    """Why ``username`` (normalized) cannot name a new account of ``role``; None if it can.

    A unified social credit code is the user name of its employer's account
    (``employer_username``): a clerk or an administrator named so would take the
    name the unit's own account is opened under, and the employer could never open it.
    """
    if not _USERNAME.fullmatch(username):
        return (
            "a username is 1 to 64 characters: letters, digits and . _ @ -, "
            "starting with a letter or digit"
        )
    if role is not Role.EMPLOYER and not check_credit_code(username.upper()):
        return "a unified social credit code is the user name of that employer's account"
    return None


#: The longest display name the store keeps (its column's length).
DISPLAY_NAME_MAX: int = t.accounts.c.display_name.type.length  # type: ignore[attr-defined]


def display_name_refusal(display_name: str | None) -> str | None:
    """Why ``display_name`` cannot be kept; None if it can (or there is none)."""
    if display_name is None:
        return None
    if len(display_name) > DISPLAY_NAME_MAX:
        return f"a display name is at most {DISPLAY_NAME_MAX} characters"
    if has_control_character(display_name):
        return "a display name holds no control characters (line breaks, tabs...)"
    return None


def _by(administrator: str | None) -> str:
    return "" if administrator is None else f" by {administrator}"


def _check_account(
    username: str,
    password: str | None,
    role: Role,
    credit_code: str | None,
    divisions: Sequence[str],
) -> None:
    refusal = username_refusal(username, role)
    if refusal is not None:
        raise InvalidAccount(refusal)
    weak = None if password is None else password_refusal(password, username)
    if weak is not None:
        raise WeakPassword(weak.code, weak.message_en, weak.message_zh)
    if (role is Role.EMPLOYER) != (credit_code is not None):
        raise InvalidAccount("an employer account, and only one, is bound to a credit code")
    if (role is Role.CLERK) != bool(divisions):
        raise InvalidAccount("a clerk account, and only one, is bound to one or more divisions")


async def _load(conn: AsyncConnection, where: sa.ColumnElement[bool]) -> list[Account]:
    rows = (
        await conn.execute(sa.select(t.accounts).where(where).order_by(t.accounts.c.username))
    ).all()
    if not rows:
        return []
    by_account: dict[int, list[str]] = {}
    division_rows = await conn.execute(
        sa.select(t.account_divisions)
        .where(t.account_divisions.c.account_id.in_([r.id for r in rows]))
        .order_by(t.account_divisions.c.division)
    )
    for d in division_rows:
        by_account.setdefault(d.account_id, []).append(d.division)
    return [_account(r, by_account.get(r.id, [])) for r in rows]


def _account(row: Any, divisions: list[str]) -> Account:
    return Account(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        display_name=row.display_name,
        credit_code=row.credit_code,
        divisions=tuple(divisions),
        disabled=bool(row.disabled),
        created_at=row.created_at,
        credentials_changed_at=row.credentials_changed_at,
        password_must_change=bool(row.password_must_change),
        last_signed_in_at=row.last_signed_in_at,
    )
