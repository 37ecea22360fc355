"""Argon2id hashing: memory-hard, salted, configurable, off the event loop; and which
new passwords are refused."""

from __future__ import annotations

import pytest

from gateway.auth import HashParams, Passwords
from gateway.passwords import (
    BREACHED,
    CONTAINS_USERNAME,
    GUESSABLE,
    MIN_PASSWORD_LENGTH,
    TOO_SHORT,
    PasswordRefusal,
    password_refusal,
)


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


# ------------------------------------------------------------- the policy
# (gateway/passwords.py: NIST SP 800-63B §5.1.1.2)

POLICY = [
    # too short
    ("abc1234", "unit-1", TOO_SHORT),
    ("", "unit-1", TOO_SHORT),
    # in the list of leaked passwords, whatever the case
    ("12345678", "unit-1", BREACHED),
    ("password", "unit-1", BREACHED),
    ("P@ssw0rd", "unit-1", BREACHED),
    ("PassWord1", "unit-1", BREACHED),
    ("qwertyuiop", "unit-1", BREACHED),
    # not in the list, but a pattern guessed early: repetition, sequence, date,
    # a dictionary word with a year
    ("aaaaaaaaaa", "unit-1", GUESSABLE),
    ("abcdefghij", "unit-1", GUESSABLE),
    ("19871231", "unit-1", GUESSABLE),
    ("Dragon2020", "unit-1", GUESSABLE),
    ("        ", "unit-1", GUESSABLE),
    ("x" * 200, "unit-1", GUESSABLE),  # longer than zxcvbn reads: judged by its start
    # contains the user name, in either case on either side
    ("acme-hr-window-7", "acme-hr", CONTAINS_USERNAME),
    ("ACME-HR-window-7", "acme-hr", CONTAINS_USERNAME),
    ("acme-hr-window-7", "ACME-HR", CONTAINS_USERNAME),
    ("window-7-aCmE-Hr", " Acme-HR ", CONTAINS_USERNAME),
    # accepted
    ("lantern-orchid-42", "unit-1", None),
    ("correct horse battery", "unit-1", None),
    ("jinan-window-4417", "acme-hr", None),
    ("rh-emca-lantern", "acme-hr", None),  # the name reversed is not the name
    ("ab-lantern-orchid", "ab", None),  # a name this short is not looked for
    ("lantern orchid cellar " * 10, "unit-1", None),  # long passphrases are welcome
]


@pytest.mark.parametrize(("password", "username", "refusal"), POLICY)
def test_the_password_policy(password: str, username: str, refusal: PasswordRefusal | None) -> None:
    assert password_refusal(password, username) == refusal


def test_eight_characters_suffice_when_hard_to_guess() -> None:
    assert MIN_PASSWORD_LENGTH == 8
    assert password_refusal("xkqmvbzt", "unit-1") is None
    assert password_refusal("xkqmvbz", "unit-1") is TOO_SHORT


def test_the_user_name_is_a_word_to_guess_from() -> None:
    # Random letters pass for anyone else; for this user they are the name
    # reversed or in leetspeak, which an attacker who knows the name tries first.
    for password in ("mlpwkvzq", "qzvkwp1m!"):
        assert password_refusal(password, "someone-else") is None
        assert password_refusal(password, "qzvkwplm") is GUESSABLE


def test_every_refusal_has_a_code_and_both_messages_none_with_the_password() -> None:
    refused = [(p, password_refusal(p, u)) for p, u, r in POLICY if r is not None]
    for password, refusal in refused:
        assert refusal is not None
        assert refusal.code.startswith("PASSWORD_")
        assert refusal.message_en
        assert refusal.message_zh
        # (The word "password" is in the messages as a word, not as an echo.)
        if password.strip() and password != "password":
            assert password not in refusal.message_en
            assert password not in refusal.message_zh
    assert {r.code for _, r in refused if r} == {
        "PASSWORD_TOO_SHORT",
        "PASSWORD_BREACHED",
        "PASSWORD_TOO_COMMON",
        "PASSWORD_CONTAINS_USERNAME",
    }
