"""Access tokens: a round trip, and every way a token can be wrong failing alike."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass

import jwt
import pytest

from gateway.auth import (
    TOKEN_REFUSED,
    AuthenticationError,
    ConfigurationError,
    Role,
    issue_token,
    verify_token,
)

SECRET = b"s" * 32
OTHER = b"o" * 32
NOW = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Someone:
    id: int
    role: Role


CLERK = Someone(42, Role.CLERK)


def _refused(token: str, *, secret: bytes = SECRET, now: dt.datetime = NOW) -> None:
    with pytest.raises(AuthenticationError) as caught:
        verify_token(token, secret=secret, now=now)
    assert str(caught.value) == TOKEN_REFUSED
    # No chained exception either: a traceback would tell which check failed.
    error = caught.value
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def _reencode(token: str, **changes: object) -> str:
    payload = jwt.decode(token, options={"verify_signature": False})
    payload.update(changes)
    return jwt.encode(payload, SECRET, algorithm="HS256")


def test_round_trip() -> None:
    token = issue_token(CLERK, secret=SECRET, ttl=HOUR, now=NOW)
    claims = verify_token(token, secret=SECRET, now=NOW + dt.timedelta(minutes=59))
    assert (claims.account_id, claims.role) == (42, Role.CLERK)
    assert (claims.issued_at, claims.expires_at) == (NOW, NOW + HOUR)
    payload = jwt.decode(token, options={"verify_signature": False})
    assert (payload["sub"], payload["iss"], payload["aud"]) == (
        "42",
        "hrss-gateway",
        "hrss-gateway",
    )
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_a_str_secret_works_like_its_bytes() -> None:
    token = issue_token(CLERK, secret=SECRET.decode(), ttl=HOUR, now=NOW)
    assert verify_token(token, secret=SECRET, now=NOW).account_id == 42


def test_expired() -> None:
    token = issue_token(CLERK, secret=SECRET, ttl=HOUR, now=NOW)
    _refused(token, now=NOW + HOUR)
    _refused(token, now=NOW + 10 * HOUR)


def test_issued_in_the_future() -> None:
    token = issue_token(CLERK, secret=SECRET, ttl=HOUR, now=NOW + dt.timedelta(minutes=5))
    _refused(token, now=NOW)
    # A few seconds of difference between two gateways' clocks is tolerated.
    early = issue_token(CLERK, secret=SECRET, ttl=HOUR, now=NOW + dt.timedelta(seconds=5))
    assert verify_token(early, secret=SECRET, now=NOW).account_id == 42


def test_forged_with_another_secret() -> None:
    _refused(issue_token(CLERK, secret=OTHER, ttl=HOUR, now=NOW))


def test_tampered_payload() -> None:
    token = issue_token(CLERK, secret=SECRET, ttl=HOUR, now=NOW)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    _refused(f"{header}.{forged}.{signature}")
    _refused(f"{header}.{payload}.{signature[:-2]}AA")


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "another-service"},
        {"iss": "someone-else"},
        {"role": "superuser"},
        {"sub": "not-a-number"},
        {"exp": "tomorrow"},
    ],
)
def test_wrong_claims(changes: dict[str, object]) -> None:
    _refused(_reencode(issue_token(CLERK, secret=SECRET, ttl=HOUR, now=NOW), **changes))


@pytest.mark.parametrize("missing", ["aud", "iss", "sub", "iat", "exp", "role"])
def test_missing_claims(missing: str) -> None:
    payload = jwt.decode(
        issue_token(CLERK, secret=SECRET, ttl=HOUR, now=NOW), options={"verify_signature": False}
    )
    del payload[missing]
    _refused(jwt.encode(payload, SECRET, algorithm="HS256"))


def test_other_algorithms_are_refused() -> None:
    payload = jwt.decode(
        issue_token(CLERK, secret=SECRET, ttl=HOUR, now=NOW), options={"verify_signature": False}
    )
    _refused(jwt.encode(payload, SECRET * 2, algorithm="HS512"))
    _refused(jwt.encode(payload, SECRET * 2, algorithm="HS512"), secret=SECRET * 2)
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    _refused(f"{header}.{body}.")


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "a.b", "Bearer x.y.z", "é.é.é"])
def test_malformed(token: str) -> None:
    _refused(token)


def test_a_short_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="32 bytes"):
        issue_token(CLERK, secret=b"short", ttl=HOUR)
    with pytest.raises(ConfigurationError, match="32 bytes"):
        verify_token("x.y.z", secret="short")
