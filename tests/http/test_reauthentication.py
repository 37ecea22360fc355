"""What a long connection (a WebSocket, a subscription) asks again at each operation or
turn: whether its credential still signs in the same one (``gateway.app._rechecked``;
pure: ``authenticate`` stands in)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from gateway import app
from gateway.app import Caller
from tests.factories import clerk_account

CLERK = clerk_account(7)


@pytest.mark.parametrize(
    ("now", "still"),
    [
        (Caller(account=CLERK), True),
        (Caller(refused=True), False),  # expired, disabled, password set since
        (Caller(account=dataclasses.replace(CLERK, id=8)), False),  # someone else now
        # The identity platform cannot be asked just now: what was proven stands.
        (Caller(refused=True, provider_unavailable=True), True),
    ],
)
async def test_a_connection_stays_signed_in_while_its_token_signs_in_the_same_one(
    monkeypatch: pytest.MonkeyPatch, now: Caller, still: bool
) -> None:
    async def authenticate(gateway: Any, authorization: str | None) -> Caller:
        assert authorization == "Bearer t"
        return now

    monkeypatch.setattr(app, "authenticate", authenticate)
    recheck = app._rechecked(object(), "Bearer t", Caller(account=CLERK))  # type: ignore[arg-type]
    assert recheck is not None
    assert await recheck() is still


def test_no_one_signed_in_has_nothing_to_ask_again() -> None:
    assert app._rechecked(object(), None, Caller()) is None  # type: ignore[arg-type]
