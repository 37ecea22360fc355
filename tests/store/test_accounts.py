"""Accounts: creation rules, unique usernames under concurrency, authentication."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.auth import HashParams, Passwords, Role
from gateway.store import (
    AccountNotFound,
    DuplicateUsername,
    EmployerNotFound,
    EmployerRecord,
    InvalidAccount,
    InvalidRecord,
    Store,
    WeakPassword,
)
from gateway.store import tables as t
from tests.factories import credit_code
from tests.store.conftest import AUDIT_KEY


class CountingPasswords(Passwords):
    """Counts verifications, to see that unknown users cost one like known ones."""

    def __init__(self, params: HashParams) -> None:
        super().__init__(params)
        self.verifications = 0

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verifications += 1
        return await super().verify(password_hash, password)


async def _raw_hash(store: Store, username: str) -> str:
    async with store.db.read() as conn:
        value = await conn.scalar(
            sa.select(t.accounts.c.password_hash).where(t.accounts.c.username == username)
        )
    assert isinstance(value, str)
    return value


async def test_create_each_role(store: Store) -> None:
    code = credit_code()
    await store.employers.upsert(EmployerRecord(code, "济南示例有限公司", "370102"))
    employer = await store.accounts.create(
        "Unit-1", "lantern-orchid-1", Role.EMPLOYER, credit_code=code, display_name="示例公司"
    )
    clerk = await store.accounts.create(
        "clerk1", "lantern-orchid-1", "clerk", divisions=["370102", "370100", "370102"]
    )
    admin = await store.accounts.create("admin1", "lantern-orchid-1", Role.ADMIN)

    assert employer.username == "unit-1"  # usernames compare without case
    assert (employer.role, employer.credit_code, employer.divisions) == (Role.EMPLOYER, code, ())
    assert employer.display_name == "示例公司"
    assert clerk.divisions == ("370100", "370102")
    assert (admin.role, admin.credit_code, admin.divisions, admin.disabled) == (
        Role.ADMIN,
        None,
        (),
        False,
    )
    assert admin.created_at.tzinfo is not None
    assert await store.accounts.get("UNIT-1") == employer
    assert await store.accounts.get_by_id(clerk.id) == clerk
    assert await store.accounts.get("nobody") is None
    assert await store.accounts.get_by_id(10_000) is None
    assert [a.username for a in await store.accounts.list()] == ["admin1", "clerk1", "unit-1"]
    assert await store.accounts.list(Role.CLERK) == [clerk]
    assert await store.accounts.list("employer") == [employer]


async def test_the_password_is_stored_as_an_argon2id_hash(store: Store) -> None:
    await store.accounts.create("admin1", "correct horse", "admin")
    stored = await _raw_hash(store, "admin1")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored


async def test_a_taken_username_is_refused_whatever_its_case(store: Store) -> None:
    await store.accounts.create("admin1", "lantern-orchid-1", "admin")
    with pytest.raises(DuplicateUsername):
        await store.accounts.create("Admin1", "lantern-orchid-2", "clerk", divisions=["370102"])
    assert len(await store.accounts.list()) == 1


async def test_concurrent_creations_of_one_username_make_exactly_one(store: Store) -> None:
    results = await asyncio.gather(
        *(
            store.accounts.create("clerk-x", f"lantern-orchid-{i}", "clerk", divisions=["370102"])
            for i in range(20)
        ),
        return_exceptions=True,
    )
    created = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, DuplicateUsername)]
    assert (len(created), len(refused)) == (1, 19)
    async with store.db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(t.accounts)) == 1
        divisions = await conn.scalar(sa.select(sa.func.count()).select_from(t.account_divisions))
    assert divisions == 1


_BROKEN_RULES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("emp", "lantern-orchid-1", "employer", {}),  # employer without its unit
    ("clerk", "lantern-orchid-1", "clerk", {}),  # clerk without a division
    ("clerk", "lantern-orchid-1", "clerk", {"divisions": ["37010"]}),
    ("clerk", "lantern-orchid-1", "clerk", {"divisions": ["37010a"]}),
    ("admin", "lantern-orchid-1", "admin", {"divisions": ["370102"]}),
    ("admin", "lantern-orchid-1", "admin", {"credit_code": "91370102MA3C00000X"}),
    ("admin", "short", "admin", {}),
    ("", "lantern-orchid-1", "admin", {}),
    ("has space", "lantern-orchid-1", "admin", {}),
    ("x" * 65, "lantern-orchid-1", "admin", {}),
]


async def test_accounts_breaking_a_rule_are_refused(store: Store) -> None:
    for username, password, role, extra in _BROKEN_RULES:
        with pytest.raises(InvalidRecord) as caught:
            await store.accounts.create(username, password, role, **extra)
        assert isinstance(caught.value, InvalidAccount) or "six digits" in str(caught.value)
    assert await store.accounts.list() == []


WEAK = [
    ("short7!", "PASSWORD_TOO_SHORT"),
    ("12345678", "PASSWORD_BREACHED"),
    ("password", "PASSWORD_BREACHED"),
    ("Password1", "PASSWORD_BREACHED"),
    ("abcdefghij", "PASSWORD_TOO_COMMON"),
    ("Jinan-Clerk-7-lantern", "PASSWORD_CONTAINS_USERNAME"),
    ("lantern-JINAN-CLERK-7", "PASSWORD_CONTAINS_USERNAME"),
]


@pytest.mark.parametrize(("password", "code"), WEAK)
async def test_weak_passwords_are_refused_before_anything_is_stored(
    store: Store, password: str, code: str
) -> None:
    with pytest.raises(WeakPassword) as caught:
        await store.accounts.create("jinan-clerk-7", password, Role.CLERK, divisions=["370100"])
    assert caught.value.code == code
    if password != "password":  # that one is also a word of the message
        assert password not in str(caught.value)
    assert isinstance(caught.value, InvalidAccount)  # callers catching that still do
    assert await store.accounts.list() == []


async def test_a_good_password_is_accepted_and_signs_in(store: Store) -> None:
    await store.accounts.create("jinan-clerk-7", "lantern-orchid-42", "clerk", divisions=["370100"])
    assert await store.accounts.authenticate("jinan-clerk-7", "lantern-orchid-42") is not None


async def test_an_unknown_role_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="superuser"):
        await store.accounts.create("root1", "lantern-orchid-1", "superuser")


async def test_an_employer_account_needs_a_known_unit(store: Store) -> None:
    with pytest.raises(EmployerNotFound):
        await store.accounts.create(
            "emp", "lantern-orchid-1", "employer", credit_code=credit_code()
        )
    assert await store.accounts.list() == []


async def test_authenticate(store: Store) -> None:
    admin = await store.accounts.create("admin1", "lantern-orchid-1", "admin")
    assert await store.accounts.authenticate("admin1", "lantern-orchid-1") == admin
    assert await store.accounts.authenticate(" ADMIN1 ", "lantern-orchid-1") == admin
    assert await store.accounts.authenticate("admin1", "lantern-orchid-2") is None
    assert await store.accounts.authenticate("admin1", "") is None
    assert await store.accounts.authenticate("nobody", "lantern-orchid-1") is None


async def test_a_disabled_account_cannot_sign_in_until_enabled(store: Store) -> None:
    await store.accounts.create("clerk1", "lantern-orchid-1", "clerk", divisions=["370102"])
    disabled = await store.accounts.set_disabled("clerk1")
    assert disabled.disabled
    assert await store.accounts.authenticate("clerk1", "lantern-orchid-1") is None
    # Its sessions end for good: the gateway refuses tokens issued before this time.
    assert disabled.credentials_changed_at is not None
    enabled = await store.accounts.set_disabled("clerk1", False)
    assert not enabled.disabled
    assert enabled.credentials_changed_at == disabled.credentials_changed_at
    assert await store.accounts.authenticate("clerk1", "lantern-orchid-1") == enabled
    with pytest.raises(AccountNotFound):
        await store.accounts.set_disabled("nobody")


async def test_a_credit_code_names_only_its_employers_account(store: Store) -> None:
    # A clerk or an administrator named after a unit's credit code would hold the
    # name that unit's own account is opened under (``employer_username``).
    code = credit_code()
    for role, binding in ((Role.CLERK, {"divisions": ["370102"]}), (Role.ADMIN, {})):
        for name in (code, code.lower()):
            with pytest.raises(InvalidAccount, match="credit code"):
                await store.accounts.create(name, "lantern-orchid-1", role, **binding)
    assert await store.accounts.list() == []
    # One character off the checksum is no credit code: a name like any other.
    other = code[:17] + ("0" if code[17] != "0" else "1")
    await store.accounts.create(other, "lantern-orchid-1", Role.ADMIN)
    await store.employers.upsert(EmployerRecord(code, "济南示例有限公司", "370102"))
    await store.accounts.create(code.lower(), None, Role.EMPLOYER, credit_code=code)


async def test_an_operator_sets_a_password_and_the_time_is_kept(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="gateway.accounts")
    clerk = await store.accounts.create("clerk1", "lantern-orchid-1", "clerk", divisions=["370102"])
    assert clerk.credentials_changed_at is None
    before = await _raw_hash(store, "clerk1")
    reset = await store.accounts.set_password("CLERK1", "meadow-violin-2")
    assert reset.credentials_changed_at is not None
    assert reset.credentials_changed_at >= clerk.created_at
    assert await _raw_hash(store, "clerk1") != before
    assert await store.accounts.authenticate("clerk1", "lantern-orchid-1") is None
    assert await store.accounts.authenticate("clerk1", "meadow-violin-2") == reset
    # What was done to whom, for an incident to be traced back; never a password.
    assert [r.getMessage() for r in caplog.records if r.name == "gateway.accounts"] == [
        "account clerk1 created (clerk)",
        "account clerk1: password set; its earlier sessions end",
    ]
    assert "meadow-violin-2" not in caplog.text
    # Checked as a new account's password is; nothing changes when refused.
    with pytest.raises(WeakPassword):
        await store.accounts.set_password("clerk1", "clerk1")
    with pytest.raises(AccountNotFound):
        await store.accounts.set_password("nobody", "meadow-violin-2")
    code = credit_code()
    await store.employers.upsert(EmployerRecord(code, "济南示例有限公司", "370102"))
    await store.accounts.create("unit-1", None, Role.EMPLOYER, credit_code=code)
    with pytest.raises(InvalidAccount, match="identity platform"):
        await store.accounts.set_password("unit-1", "meadow-violin-2")
    assert await store.accounts.get("clerk1") == reset


async def test_a_clerk_moves_to_other_divisions(store: Store) -> None:
    await store.accounts.create("clerk1", "lantern-orchid-1", "clerk", divisions=["370102"])
    await store.accounts.create("admin1", "lantern-orchid-1", "admin")
    moved = await store.accounts.set_divisions("clerk1", ["370200", "370100", "370200"])
    assert moved.divisions == ("370100", "370200")
    assert (await store.accounts.get("clerk1")) == moved
    for username, divisions in (("clerk1", []), ("admin1", ["370102"])):
        with pytest.raises(InvalidAccount, match="clerk"):
            await store.accounts.set_divisions(username, divisions)
    with pytest.raises(InvalidRecord):
        await store.accounts.set_divisions("clerk1", ["37"])
    with pytest.raises(AccountNotFound):
        await store.accounts.set_divisions("nobody", ["370102"])
    assert (await store.accounts.get("clerk1")) == moved


async def test_an_unknown_user_costs_one_verification_like_a_known_one(store_url: str) -> None:
    passwords = CountingPasswords(HashParams.cheap())
    store = await Store.open(store_url, passwords=passwords, audit_key=AUDIT_KEY)
    try:
        await store.accounts.create("admin1", "lantern-orchid-1", "admin")
        for username, password in [("admin1", "wrong-pass"), ("nobody", "wrong-pass")]:
            passwords.verifications = 0
            assert await store.accounts.authenticate(username, password) is None
            assert passwords.verifications == 1
    finally:
        await store.close()


async def test_a_hash_with_old_parameters_is_replaced_at_sign_in(store_url: str) -> None:
    old = await Store.open(store_url, passwords=Passwords(HashParams.cheap()))
    try:
        await old.accounts.create("admin1", "lantern-orchid-1", "admin")
        old_hash = await _raw_hash(old, "admin1")
    finally:
        await old.close()

    stronger = HashParams(time_cost=2, memory_cost=16, parallelism=1)
    new = await Store.open(store_url, passwords=Passwords(stronger))
    try:
        assert await new.accounts.authenticate("admin1", "wrong-pass") is None
        assert await _raw_hash(new, "admin1") == old_hash  # only a right password rehashes
        assert await new.accounts.authenticate("admin1", "lantern-orchid-1") is not None
        new_hash = await _raw_hash(new, "admin1")
        assert new_hash != old_hash
        assert "t=2" in new_hash
        assert await new.accounts.authenticate("admin1", "lantern-orchid-1") is not None
    finally:
        await new.close()


async def test_a_password_an_administrator_gave_must_be_changed_until_it_is(store: Store) -> None:
    made = await store.accounts.create(
        "clerk1", "lantern-orchid-1", Role.CLERK, divisions=["370102"], must_change=True
    )
    assert made.password_must_change
    assert (await store.accounts.get("clerk1")) == made
    # The clerk's own change clears it; an administrator's reset sets it again.
    changed = await store.accounts.set_password("clerk1", "meadow-violin-2")
    assert not changed.password_must_change
    reset = await store.accounts.set_password("clerk1", "meadow-violin-3", must_change=True)
    assert reset.password_must_change
    assert not (
        await store.accounts.create("admin1", "lantern-orchid-1", "admin")
    ).password_must_change


async def test_a_display_name_the_store_cannot_keep_is_refused_before_anything_is(
    store: Store,
) -> None:
    for name in ("窗" * 201, "历下区\n窗口"):
        with pytest.raises(InvalidAccount, match="display name"):
            await store.accounts.create(
                "clerk1", "lantern-orchid-1", Role.CLERK, display_name=name, divisions=["370102"]
            )
    assert await store.accounts.list() == []
    made = await store.accounts.create(
        "clerk1", "lantern-orchid-1", Role.CLERK, display_name="窗" * 200, divisions=["370102"]
    )
    assert made.display_name == "窗" * 200


async def test_a_change_and_its_audit_record_are_stored_together_or_not_at_all(
    store: Store,
) -> None:
    admin = await store.accounts.create("admin1", "lantern-orchid-1", Role.ADMIN)

    async def recorded(conn: Any) -> None:
        await store.audit.record_account(
            actor=admin,
            action="create_clerk",
            channel="government_portal",
            detail={"account": "clerk1"},
            conn=conn,
        )

    async def recorded_then_failed(conn: Any) -> None:
        await recorded(conn)
        raise RuntimeError("the change fails after its record was appended")

    with pytest.raises(RuntimeError):
        await store.accounts.create(
            "clerk1",
            "lantern-orchid-1",
            Role.CLERK,
            divisions=["370102"],
            also=recorded_then_failed,
        )
    assert await store.accounts.get("clerk1") is None
    assert (await store.audit.query(action="create_clerk", first=5)).items == []
    await store.accounts.create(
        "clerk1", "lantern-orchid-1", Role.CLERK, divisions=["370102"], also=recorded
    )
    [record] = (await store.audit.query(action="create_clerk", first=5)).items
    assert (record.actor_username, record.detail, record.worker_key) == (
        "admin1",
        {"account": "clerk1"},
        None,
    )
    assert (await store.audit.verify_chain()).ok
    with pytest.raises(ValueError, match="not a change to an account"):
        await store.audit.record_account(
            actor=admin, action="read_worker", channel="government_portal", detail={}
        )
