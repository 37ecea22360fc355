"""Sign-in throttling: per username, per address, what resets it, and what it never reveals.

Each test runs with the counts in memory and in the real Redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest
import redis.asyncio

from gateway.errors import GatewayError
from gateway.http.ratelimit import LoginThrottle, RateLimits, login_throttled
from tests.services import RedisNamespace, services

KEY = b"k" * 32
#: A storage deadline no busy machine reaches: the limiter fails open past it (its
#: own tests, tests/ratelimit/test_shared.py), and these are about the counting;
#: at the production 0.5 s a loaded machine let 30 parallel guesses through.
LIMITS = RateLimits(
    login_per_username="5 per 15 minutes",
    login_per_address="20 per 15 minutes",
    storage_timeout_s=10,
)
HOME, ELSEWHERE = "198.51.100.1", "198.51.100.2"

Make = Callable[..., LoginThrottle]


@pytest.fixture(params=["memory", pytest.param("redis", marks=services)])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Make]:
    """``make(limits)``: a throttle; all those of one test share one storage."""
    if request.param == "redis":
        namespace: RedisNamespace = request.getfixturevalue("redis_namespace")
        url, prefix = namespace.url, namespace.prefix.rstrip(":")
    else:
        url, prefix = "memory://", "unused"
    made: list[LoginThrottle] = []

    def build(limits: RateLimits = LIMITS) -> LoginThrottle:
        throttle = LoginThrottle(replace(limits, key_prefix=prefix), url, hash_key=KEY)
        if made and url == "memory://":
            # Memory counts live in the storage object: share the first one's.
            throttle._counter = made[0]._counter
        made.append(throttle)
        return throttle

    yield build
    for throttle in made:
        await throttle.aclose()


async def fail(throttle: LoginThrottle, username: str, address: str) -> float | None:
    """One wrong password, as the login mutation handles it; the wait if throttled."""
    wait = await throttle.check(username, address)
    if wait is None:
        await throttle.failed(username, address)
    return wait


async def test_a_username_just_at_and_just_over_its_limit(make: Make) -> None:
    throttle = make()
    for _ in range(5):
        assert await fail(throttle, "alice", HOME) is None
    wait = await throttle.check("alice", HOME)
    assert wait is not None
    assert 0 < wait <= 15 * 60
    # From another address too: the limit protects the account, wherever the guesses come from.
    assert await throttle.check("alice", ELSEWHERE) is not None
    assert await throttle.check("bob", HOME) is None


async def test_the_right_password_is_refused_while_throttled(make: Make) -> None:
    throttle = make()
    for _ in range(5):
        await fail(throttle, "alice", HOME)
    # The mutation asks before it verifies anything: a correct guess now gets the same wait.
    assert await throttle.check("alice", HOME) is not None


async def test_spellings_of_one_username_share_a_count(make: Make) -> None:
    throttle = make()
    for spelling in ("alice", "Alice", " ALICE ", "ａｌｉｃｅ", "alice"):
        assert await fail(throttle, spelling, HOME) is None
    assert await throttle.check("alice", HOME) is not None


async def test_success_forgets_the_usernames_failures(make: Make) -> None:
    throttle = make()
    for _ in range(4):
        await fail(throttle, "alice", HOME)
    assert await throttle.check("alice", HOME) is None
    await throttle.succeeded("alice", HOME)
    for _ in range(5):
        assert await fail(throttle, "alice", HOME) is None
    assert await throttle.check("alice", HOME) is not None


async def test_guesses_from_elsewhere_do_not_lock_out_an_address_that_signed_in(
    make: Make,
) -> None:
    throttle = make()
    assert await throttle.check("alice", HOME) is None
    await throttle.succeeded("alice", HOME)
    # Someone who knows her username: five wrong passwords, from addresses of their own.
    for i in range(5):
        assert await fail(throttle, "alice", f"203.0.113.{i}") is None
    assert await throttle.check("alice", ELSEWHERE) is not None
    # Alice, at the window she signs in from, is not locked out; her sign-in there
    # forgets the guesses' count.
    assert await throttle.check("alice", HOME) is None
    await throttle.succeeded("alice", HOME)
    assert await throttle.check("alice", ELSEWHERE) is None
    # There she has a limit of her own.
    for _ in range(5):
        assert await fail(throttle, "alice", HOME) is None
    assert await throttle.check("alice", HOME) is not None


async def test_without_known_addresses_every_address_counts_for_the_username(
    make: Make,
) -> None:
    throttle = make(replace(LIMITS, login_known_address_days=0))
    assert await throttle.check("alice", HOME) is None
    await throttle.succeeded("alice", HOME)
    for i in range(5):
        assert await fail(throttle, "alice", f"203.0.113.{i}") is None
    assert await throttle.check("alice", HOME) is not None


async def test_an_address_just_at_and_just_over_its_limit(make: Make) -> None:
    throttle = make()
    # Spraying: a few guesses at many usernames from one address.
    for i in range(20):
        assert await fail(throttle, f"user{i}", HOME) is None
    wait = await throttle.check("someone-new", HOME)
    assert wait is not None
    assert 0 < wait <= 15 * 60
    assert await throttle.check("someone-new", ELSEWHERE) is None


async def test_a_throttled_address_does_not_use_up_the_usernames_it_tries(make: Make) -> None:
    throttle = make()
    for i in range(20):
        await fail(throttle, f"user{i}", HOME)
    for _ in range(10):
        assert await throttle.check("alice", HOME) is not None
    # Alice, from her own address, still has all her attempts.
    for _ in range(5):
        assert await fail(throttle, "alice", ELSEWHERE) is None
    assert await throttle.check("alice", ELSEWHERE) is not None


async def test_success_does_not_reset_the_address(make: Make) -> None:
    throttle = make()
    for i in range(20):
        await fail(throttle, f"user{i}", HOME)
    await throttle.succeeded("user0", HOME)
    assert await throttle.check("user0", HOME) is not None


async def test_successful_sign_ins_do_not_count_against_the_address(make: Make) -> None:
    throttle = make()
    # A service hall: many clerks signing in from one address.
    for i in range(40):
        assert await throttle.check(f"clerk{i}", HOME) is None
        await throttle.succeeded(f"clerk{i}", HOME)
    assert await throttle.check("clerk0", HOME) is None


async def test_parallel_guesses_cannot_slip_past_the_limit(make: Make) -> None:
    throttle = make()
    waits = await asyncio.gather(*(throttle.check("alice", f"203.0.113.{i}") for i in range(30)))
    assert sum(w is None for w in waits) == 5


async def test_the_answer_depends_only_on_the_attempts_made(make: Make) -> None:
    """The throttle knows nothing of accounts: a username that exists and one that
    does not, tried alike, are throttled alike, and the error is the same."""
    throttle = make()
    answers = []
    for username in ("demo-employer", "no-such-user-x1"):
        for _ in range(5):
            await fail(throttle, username, HOME)
        wait = await throttle.check(username, HOME)
        assert wait is not None
        answers.append(login_throttled(wait))
    first, second = (e.formatted for e in answers)
    # Alike but for the seconds to wait, which the clock may have moved between the two.
    assert _without_digits(first) == _without_digits(second)
    assert first["extensions"]["code"] == "LOGIN_THROTTLED"


def _without_digits(error: object) -> str:
    return str(error).translate(str.maketrans("", "", "0123456789"))


async def test_counts_are_shared_by_every_throttle_on_one_storage(make: Make) -> None:
    one, other = make(), make()
    for throttle in (one, other, one, other, one):
        assert await fail(throttle, "alice", HOME) is None
    assert await other.check("alice", HOME) is not None


async def test_disabled_throttle_lets_everything_through(make: Make) -> None:
    throttle = make(RateLimits(login_per_username="1 per hour", enabled=False))
    for _ in range(5):
        assert await fail(throttle, "alice", HOME) is None


def test_the_throttled_error() -> None:
    error = login_throttled(61.2)
    assert isinstance(error, GatewayError)
    extensions = error.extensions or {}
    assert extensions["code"] == "LOGIN_THROTTLED"
    assert extensions["retry_after"] == 62
    assert "62" in extensions["message_en"]
    assert "62" in extensions["message_zh"]
    assert "登录尝试次数过多" in extensions["message_zh"]
    assert login_throttled(0.01).extensions["retry_after"] == 1  # type: ignore[index]


def test_a_hash_key_is_required() -> None:
    with pytest.raises(ValueError, match="key"):
        LoginThrottle(LIMITS, "memory://", hash_key=b"")


@services
async def test_neither_usernames_nor_addresses_appear_in_redis(
    redis_namespace: RedisNamespace,
) -> None:
    limits = RateLimits(key_prefix=redis_namespace.prefix.rstrip(":"))
    throttle = LoginThrottle(limits, redis_namespace.url, hash_key=KEY)
    try:
        await fail(throttle, "Distinctive.User", "198.51.100.77")
    finally:
        await throttle.aclose()
    client = redis.asyncio.Redis.from_url(redis_namespace.url)
    try:
        keys = [_text(k) async for k in client.scan_iter(match=f"{redis_namespace.prefix}*")]
        values = [_text(v) for k in keys for v in await client.lrange(k, 0, -1)]
    finally:
        await client.aclose()
    assert len(keys) == 2  # one count for the username, one for the address
    for text in [*keys, *values]:
        assert "distinctive" not in text.lower()
        assert "198.51.100" not in text


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
