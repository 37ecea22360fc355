"""Argon2id hashing: memory-hard, salted, configurable, off the event loop."""

from __future__ import annotations

import pytest

from gateway.auth import HashParams, Passwords


async def test_hash_and_verify() -> None:
    passwords = Passwords(HashParams.cheap())
    first = await passwords.hash("correct horse")
    second = await passwords.hash("correct horse")
    assert first.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert first != second  # salted
    assert await passwords.verify(first, "correct horse")
    assert await passwords.verify(second, "correct horse")
    assert not await passwords.verify(first, "correct horsE")
    assert not await passwords.verify(first, "")
    assert not await passwords.verify("not a hash", "correct horse")


async def test_the_default_parameters_are_memory_hard() -> None:
    passwords = Passwords()
    assert passwords.params.memory_cost >= 19 * 1024  # OWASP's floor for Argon2id
    encoded = await passwords.hash("correct horse")
    assert encoded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


async def test_a_change_of_parameters_asks_for_a_rehash() -> None:
    old = await Passwords(HashParams.cheap()).hash("correct horse")
    stronger = Passwords(HashParams(time_cost=2, memory_cost=16, parallelism=1))
    assert stronger.needs_rehash(old)
    assert await stronger.verify(old, "correct horse")  # old hashes still verify
    assert not stronger.needs_rehash(await stronger.hash("correct horse"))


def test_parameters_from_the_environment() -> None:
    env = {
        "HRSS_ARGON2_TIME_COST": "4",
        "HRSS_ARGON2_MEMORY_KIB": "32768",
        "HRSS_ARGON2_PARALLELISM": "2",
        "HRSS_ARGON2_MAX_CONCURRENT": "1",
    }
    assert HashParams.from_env(env) == HashParams(4, 32768, 2, 1)
    assert HashParams.from_env({}) == HashParams()
    with pytest.raises(ValueError, match="three"):
        HashParams.from_env({"HRSS_ARGON2_TIME_COST": "three"})


async def test_an_unknown_user_is_checked_against_a_real_hash() -> None:
    passwords = Passwords(HashParams.cheap())
    calls: list[str] = []
    real_verify = passwords.verify

    async def counting(password_hash: str, password: str) -> bool:
        calls.append(password_hash)
        return await real_verify(password_hash, password)

    passwords.verify = counting  # type: ignore[method-assign]
    await passwords.spend_one_verification("guess")
    await passwords.spend_one_verification("guess")
    assert len(calls) == 2
    assert calls[0] == calls[1]
    assert calls[0].startswith("$argon2id$v=19$m=8,t=1,p=1$")  # same cost as real accounts
