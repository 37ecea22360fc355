"""The contract's cryptography, shared by the adapter and the stand-in.

Request signing (HMAC-SM3 over a canonical string) and the encryption of ID
numbers and names (SM4-CBC, PKCS#7, a fresh IV per value), as
``shared/legacy/social-insurance.md`` "Transport" describes them. The
primitives are the ``cryptography`` package's (``hashes.SM3``,
``algorithms.SM4``); nothing here implements a cipher or a hash.
"""

from __future__ import annotations

import base64
import binascii
import hmac as std_hmac
import os
from collections.abc import Iterable

from cryptography.hazmat.primitives import hashes, hmac, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

#: The fields the contract sends and answers encrypted.
ENCRYPTED_FIELDS = ("aac002", "aac003")

HEADER_APP_ID = "X-App-Id"
HEADER_TIMESTAMP = "X-Timestamp"
HEADER_NONCE = "X-Nonce"
HEADER_SIGNATURE = "X-Signature"

_BLOCK = 16  # SM4's block and IV size, in bytes


# ---------------------------------------------------------------- signing


def sm3_hex(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """``a=1&b=2``: the parameters sorted by name (then value), as decoded, empty when none."""
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def string_to_sign(
    method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes
) -> str:
    return "\n".join((method.upper(), path, query, timestamp, nonce, sm3_hex(body)))


def signature(
    secret: str, method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes
) -> str:
    """``hex(HMAC-SM3(app_secret, string_to_sign(...)))``: the contract's ``X-Signature``."""
    mac = hmac.HMAC(secret.encode(), hashes.SM3())
    mac.update(string_to_sign(method, path, query, timestamp, nonce, body).encode())
    return mac.finalize().hex()


def signatures_match(expected: str, given: str) -> bool:
    """Constant time; hex digits in either case."""
    return std_hmac.compare_digest(expected.lower().encode(), given.strip().lower().encode())


# ------------------------------------------------------------- encryption


class DecryptError(ValueError):
    """A value that is not ``base64(IV ‖ SM4-CBC(PKCS#7(UTF-8)))`` under our key."""


def encrypt(key: bytes, value: str) -> str:
    iv = os.urandom(_BLOCK)
    padder = padding.PKCS7(128).padder()
    plain = padder.update(value.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.SM4(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(plain) + encryptor.finalize()).decode("ascii")


def decrypt(key: bytes, value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptError("not base64") from None
    if len(raw) < 2 * _BLOCK or len(raw) % _BLOCK:
        raise DecryptError("not an IV and whole blocks")
    decryptor = Cipher(algorithms.SM4(key), modes.CBC(raw[:_BLOCK])).decryptor()
    plain = decryptor.update(raw[_BLOCK:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        data = unpadder.update(plain) + unpadder.finalize()
        return data.decode()
    except (ValueError, UnicodeDecodeError):
        # Bad padding or bytes that are not UTF-8: the wrong key, or not our value.
        raise DecryptError("does not decrypt") from None
