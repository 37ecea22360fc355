"""Who may do what: roles, password hashing and signed access tokens.

Passwords are hashed with Argon2id (memory-hard) through argon2-cffi; the
hashing runs off the event loop and a few at a time, because each hash takes
tens of milliseconds and tens of megabytes. Tokens are HS256 JWTs with an
expiry, an issuer and an audience; whatever is wrong with a token, the caller
gets the same ``AuthenticationError`` with the same message, so that a probe
learns nothing about which check failed.

This module knows nothing of the store: anything with an ``id`` and a ``role``
(a ``gateway.store.Account``) can be given a token. Argon2 and the JOSE library
are imported where they are used: the configuration and the stand-ins import
this module for its roles and errors alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

#: Issuer and audience of the gateway's own tokens.
TOKEN_ISSUER = "hrss-gateway"  # noqa: S105 (a name, not a secret)
TOKEN_AUDIENCE = "hrss-gateway"  # noqa: S105

#: HS256 keys shorter than the hash output weaken the signature (RFC 7518 §3.2).
MIN_SECRET_BYTES = 32

#: The one message of every token failure.
TOKEN_REFUSED = "authentication failed: the token is not valid, sign in again"  # noqa: S105
#: The one message of every login failure.
LOGIN_REFUSED = "authentication failed: wrong username or password"

_ALGORITHM = "HS256"
# Clocks of several gateway instances differ a little; a token issued by one
# must not look issued in the future to another.
_CLOCK_SKEW = 30


class Role(StrEnum):
    """What an account is: the rights follow from it (DESIGN.md, "People and rights")."""

    EMPLOYER = "employer"  # one unit, its own workers only
    CLERK = "clerk"  # a service window, employers in its divisions
    ADMIN = "admin"  # clerks and policy, every employer


class AuthenticationError(Exception):
    """Credentials or token refused. The message never says which part was wrong."""

    def __init__(self, message: str = TOKEN_REFUSED) -> None:
        super().__init__(message)


class ConfigurationError(Exception):
    """A secret is missing or unusable (names the setting, never its value)."""


# ------------------------------------------------------------------ passwords


@dataclass(frozen=True, slots=True)
class HashParams:
    """Argon2id cost parameters. The defaults are RFC 9106's second recommendation."""

    time_cost: int = 3
    memory_cost: int = 64 * 1024  # KiB
    parallelism: int = 4
    max_concurrent: int = 4  # hashes in flight at once: bounds memory under a login storm

    @classmethod
    def cheap(cls) -> HashParams:
        """The smallest parameters Argon2 accepts: for tests only."""
        return cls(time_cost=1, memory_cost=8, parallelism=1)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HashParams:
        """``HRSS_ARGON2_TIME_COST``, ``_MEMORY_KIB``, ``_PARALLELISM``, ``_MAX_CONCURRENT``."""
        env = os.environ if environ is None else environ
        d = cls()
        return cls(
            time_cost=int(env.get("HRSS_ARGON2_TIME_COST", d.time_cost)),
            memory_cost=int(env.get("HRSS_ARGON2_MEMORY_KIB", d.memory_cost)),
            parallelism=int(env.get("HRSS_ARGON2_PARALLELISM", d.parallelism)),
            max_concurrent=int(env.get("HRSS_ARGON2_MAX_CONCURRENT", d.max_concurrent)),
        )


class Passwords:
    """Argon2id hashing and verification, off the event loop."""

    def __init__(self, params: HashParams | None = None) -> None:
        self.params = params or HashParams()
        import argon2

        self._hasher = argon2.PasswordHasher(
            time_cost=self.params.time_cost,
            memory_cost=self.params.memory_cost,
            parallelism=self.params.parallelism,
            type=argon2.Type.ID,
        )
        self._slots = asyncio.Semaphore(self.params.max_concurrent)
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        async with self._slots:
            return await asyncio.to_thread(self._verify, password_hash, password)

    async def prepare(self) -> None:
        """Make the stand-in hash that ``spend_one_verification`` checks against."""
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(16))

    async def spend_one_verification(self, password: str) -> None:
        """Take as long as a real verification, for a user that does not exist."""
        await self.prepare()
        assert self._dummy is not None
        await self.verify(self._dummy, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than the current ones."""
        return self._hasher.check_needs_rehash(password_hash)

    def _verify(self, password_hash: str, password: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


# --------------------------------------------------------------------- tokens


class Principal(Protocol):
    """What a token is issued to."""

    @property
    def id(self) -> int: ...

    @property
    def role(self) -> Role: ...


@dataclass(frozen=True, slots=True)
class Claims:
    """A verified token: whose it is, in which role, and for how long."""

    account_id: int
    role: Role
    issued_at: dt.datetime
    expires_at: dt.datetime


def issue_token(
    account: Principal,
    *,
    secret: bytes | str,
    ttl: dt.timedelta,
    now: dt.datetime | None = None,
) -> str:
    """A signed token for ``account``, valid for ``ttl`` from ``now``."""
    key = _key(secret)
    issued = int((now or dt.datetime.now(dt.UTC)).timestamp())
    payload = {
        "iss": TOKEN_ISSUER,
        "aud": TOKEN_AUDIENCE,
        "sub": str(account.id),
        "role": str(account.role),
        "iat": issued,
        "exp": issued + int(ttl.total_seconds()),
    }
    import jwt

    return jwt.encode(payload, key, algorithm=_ALGORITHM)


def verify_token(token: str, *, secret: bytes | str, now: dt.datetime | None = None) -> Claims:
    """The claims of a valid token; ``AuthenticationError`` for anything else."""
    import jwt

    key = _key(secret)
    try:
        # Expiry is checked below against ``now`` so that tests can move the clock.
        payload: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[_ALGORITHM],
            audience=TOKEN_AUDIENCE,
            issuer=TOKEN_ISSUER,
            options={
                "require": ["iss", "aud", "sub", "iat", "exp"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
        account_id = int(payload["sub"])
        role = Role(payload["role"])
        issued_at, expires_at = int(payload["iat"]), int(payload["exp"])
    except (jwt.InvalidTokenError, KeyError, TypeError, ValueError):
        raise AuthenticationError(TOKEN_REFUSED) from None
    current = (now or dt.datetime.now(dt.UTC)).timestamp()
    if not issued_at - _CLOCK_SKEW <= current < expires_at:
        raise AuthenticationError(TOKEN_REFUSED)
    return Claims(
        account_id=account_id,
        role=role,
        issued_at=dt.datetime.fromtimestamp(issued_at, dt.UTC),
        expires_at=dt.datetime.fromtimestamp(expires_at, dt.UTC),
    )


def _key(secret: bytes | str) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if len(key) < MIN_SECRET_BYTES:
        raise ConfigurationError(f"the token secret must be at least {MIN_SECRET_BYTES} bytes")
    return key


# -------------------------------------------------------------------- secrets


def load_or_create_secret(path: str | os.PathLike[str]) -> bytes:
    """The secret kept in ``path``, created (32 random bytes, mode 0600) if missing.

    For demo mode, where nobody configures a secret: tokens stay valid across
    restarts. Several processes starting at once all end up with the same secret,
    because the file appears whole or not at all.
    """
    target = Path(path)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".secret-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(MIN_SECRET_BYTES))
                f.flush()
                os.fsync(f.fileno())
            # Fails if another process got there first: then theirs is the secret.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, target)
        finally:
            os.unlink(tmp)
    key = target.read_bytes()
    if len(key) < MIN_SECRET_BYTES:
        raise ConfigurationError(
            f"the secret file {target} is shorter than {MIN_SECRET_BYTES} bytes"
        )
    return key


def secret_from_env(
    name: str,
    environ: Mapping[str, str] | None = None,
    *,
    demo_file: str | os.PathLike[str] | None = None,
) -> bytes:
    """The secret in the variable ``name`` (``HRSS_TOKEN_SECRET``, ``HRSS_AUDIT_KEY``).

    Without it, the secret of ``demo_file`` when one is given (demo mode), and
    otherwise a ``ConfigurationError``: a production gateway must not invent one.
    """
    env = os.environ if environ is None else environ
    value = env.get(name)
    if value:
        key = value.encode()
        if len(key) < MIN_SECRET_BYTES:
            raise ConfigurationError(f"{name} must be at least {MIN_SECRET_BYTES} bytes")
        return key
    if demo_file is not None:
        return load_or_create_secret(demo_file)
    raise ConfigurationError(f"{name} is not set")
