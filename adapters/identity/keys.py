"""The identity stand-in's records: its signing keys and its legal-person accounts.

Kept in SQLite (in a file with ``--data``), so that tokens signed before a
restart still verify after it. Keys are RSA (2048 bits, made with
``cryptography``); a rotation makes a new key the signing one and keeps the
old one published for ``keep_old_s``, so that tokens it signed stay valid
until they expire, as a real provider does.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import argon2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from adapters.standin import seed as seed_data
from adapters.standin.store import Store
from gateway.auth import HashParams

SCHEMA = """
CREATE TABLE IF NOT EXISTS signing_key (
    kid TEXT PRIMARY KEY,
    pem BLOB NOT NULL,
    created_at REAL NOT NULL,
    retire_at REAL
);
CREATE TABLE IF NOT EXISTS account (
    username TEXT PRIMARY KEY,
    subject TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    credit_code TEXT NOT NULL,
    name TEXT NOT NULL
);
"""

ALGORITHM = "RS256"
# A fixed namespace: the same seed account gets the same subject in every run.
_SUBJECTS = uuid.UUID("0b7c6c52-3a51-4a8e-9f0e-5a0f3c1d7e21")


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    subject: str
    credit_code: str
    name: str


class Records:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock
        # Default parameters: the stand-in checks passwords as a real provider would,
        # unless the gateway's own HRSS_ARGON2_* variables say otherwise (the tests set
        # them to Argon2's cheapest, as they do for the gateway).
        cost = HashParams.from_env()
        self._hasher = argon2.PasswordHasher(
            time_cost=cost.time_cost, memory_cost=cost.memory_cost, parallelism=cost.parallelism
        )
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        #: Parsed signing keys by kid (a kid's key never changes).
        self._keys: dict[str, rsa.RSAPrivateKey] = {}

    # ---------------------------------------------------------------- keys

    def ensure_key(self) -> None:
        if self.store.one("SELECT 1 FROM signing_key WHERE retire_at IS NULL") is None:
            self.rotate(keep_old_s=0)

    def rotate(self, *, keep_old_s: float) -> str:
        """A new signing key; the one it replaces stays published ``keep_old_s``."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        kid = secrets.token_urlsafe(12)
        now = self._clock()
        with self.store.transaction() as tx:
            tx.execute(
                "UPDATE signing_key SET retire_at = ? WHERE retire_at IS NULL", (now + keep_old_s,)
            )
            tx.execute("DELETE FROM signing_key WHERE retire_at <= ?", (now,))
            tx.execute(
                "INSERT INTO signing_key (kid, pem, created_at) VALUES (?, ?, ?)", (kid, pem, now)
            )
        return kid

    def signing_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        row = self.store.one(
            "SELECT kid, pem FROM signing_key WHERE retire_at IS NULL ORDER BY created_at DESC"
        )
        assert row is not None, "ensure_key() makes one at start"
        return row["kid"], self._parsed(row["kid"], row["pem"])

    def _parsed(self, kid: str, pem: bytes) -> rsa.RSAPrivateKey:
        """The key of ``kid``, parsed once: loading a PEM checks the RSA key, some
        milliseconds of CPU, and every token signed and every key set served needs it."""
        key = self._keys.get(kid)
        if key is None:
            loaded = serialization.load_pem_private_key(pem, password=None)
            assert isinstance(loaded, rsa.RSAPrivateKey)
            key = self._keys[kid] = loaded
        return key

    def published(self) -> list[dict[str, Any]]:
        """The public keys a relying party may meet: the signing one and those kept."""
        rows = self.store.query(
            "SELECT kid, pem FROM signing_key WHERE retire_at IS NULL OR retire_at > ? "
            "ORDER BY created_at DESC",
            (self._clock(),),
        )
        keys = []
        for row in rows:
            private = self._parsed(row["kid"], row["pem"])
            jwk: dict[str, Any] = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
            keys.append({**jwk, "kid": row["kid"], "use": "sig", "alg": ALGORITHM})
        return keys

    # ------------------------------------------------------------ accounts

    def load_seed(self, password: str) -> None:
        """One legal-person account per seed employer, signed in with its credit code."""
        if not self.store.is_empty("account"):
            return
        for employer in seed_data.EMPLOYERS:
            p = employer.profile
            self.add_account(p.credit_code, password, credit_code=p.credit_code, name=p.name)

    def add_account(self, username: str, password: str, *, credit_code: str, name: str) -> None:
        subject = str(uuid.uuid5(_SUBJECTS, username))
        with self.store.transaction() as tx:
            tx.execute(
                "INSERT INTO account (username, subject, password_hash, credit_code, name) "
                "VALUES (?, ?, ?, ?, ?)",
                (username, subject, self._hasher.hash(password), credit_code, name),
            )

    def authenticate(self, username: str, password: str) -> Account | None:
        row = self.store.one("SELECT * FROM account WHERE username = ?", (username.strip(),))
        if row is None:
            # As long as a real check: the answer time tells nothing about who exists.
            self._check(self._dummy, password)
            return None
        if not self._check(row["password_hash"], password):
            return None
        return _account(row)

    def account(self, subject: str) -> Account | None:
        row = self.store.one("SELECT * FROM account WHERE subject = ?", (subject,))
        return None if row is None else _account(row)

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False


def _account(row: Any) -> Account:
    return Account(row["username"], row["subject"], row["credit_code"], row["name"])
