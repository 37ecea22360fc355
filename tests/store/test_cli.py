"""``hrss-gateway accounts ...``, called through a parser built here as gateway/cli.py does."""

from __future__ import annotations

import argparse
import asyncio
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from gateway.auth import HashParams, Passwords
from gateway.store import Store
from gateway.store.cli import add_accounts_parser

T = TypeVar("T")


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HRSS_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("HRSS_ARGON2_MEMORY_KIB", "8")
    monkeypatch.setenv("HRSS_ARGON2_PARALLELISM", "1")


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    value = f"sqlite+aiosqlite:///{tmp_path}/data/gateway.db"
    monkeypatch.setenv("HRSS_STORE_URL", value)
    return value


def run(*argv: str, stdin: str = "") -> int:
    parser = argparse.ArgumentParser(prog="hrss-gateway")
    add_accounts_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", io.StringIO(stdin))
        result: int = args.run(args)
    return result


def in_store(url: str, action: Callable[[Store], Awaitable[T]]) -> T:
    """``action`` on the store at ``url``, as the command left it."""

    async def go() -> T:
        async with await Store.open(url, passwords=Passwords(HashParams.cheap())) as store:
            return await action(store)

    return asyncio.run(go())


def authenticate(url: str, username: str, password: str) -> bool:
    async def signs_in(store: Store) -> bool:
        return await store.accounts.authenticate(username, password) is not None

    return in_store(url, signs_in)


def must_change(url: str, username: str) -> bool:
    async def flagged(store: Store) -> bool:
        account = await store.accounts.get(username)
        assert account is not None
        return account.password_must_change

    return in_store(url, flagged)


def test_a_password_the_operator_sets_for_someone_is_theirs_to_change(url: str) -> None:
    # Whoever runs the command knows the password: the clerk replaces it first.
    clerk = ["create-clerk", "window-3", "--division", "370102", "--password-stdin"]
    assert run("accounts", *clerk, stdin="lantern-orchid-3\n") == 0
    assert must_change(url, "window-3")
    kept = ["create-clerk", "window-4", "--division", "370102", "--permanent", "--password-stdin"]
    assert run("accounts", *kept, stdin="lantern-orchid-4\n") == 0
    assert not must_change(url, "window-4")
    # An administrator made here is most often the operator's own account.
    assert (
        run("accounts", "create-admin", "root-1", "--password-stdin", stdin="meadow-oak-1\n") == 0
    )
    assert not must_change(url, "root-1")
    reset = ["set-password", "root-1", "--password-stdin"]
    assert run("accounts", *reset, stdin="meadow-oak-2\n") == 0
    assert must_change(url, "root-1")
    assert (
        run("accounts", *reset[:-1], "--permanent", "--password-stdin", stdin="meadow-oak-3\n") == 0
    )
    assert not must_change(url, "root-1")


def test_create_list_disable_enable(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(
            "accounts",
            "create-clerk",
            "window-1",
            "--division",
            "370102",
            "--division",
            "370181",
            "--name",
            "历下区窗口",
            "--password-stdin",
            stdin="clerk-password\n",
        )
        == 0
    )
    assert (
        run("accounts", "create-admin", "root-admin", "--password-stdin", stdin="admin-pass\n") == 0
    )
    assert "created clerk window-1" in capsys.readouterr().out
    assert authenticate(url, "window-1", "clerk-password")

    assert run("accounts", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "root-admin\tadmin\t-\tactive\t",
        "window-1\tclerk\t370102,370181\tactive\t历下区窗口",
    ]
    assert run("accounts", "list", "--role", "admin") == 0
    assert capsys.readouterr().out.splitlines() == ["root-admin\tadmin\t-\tactive\t"]

    assert run("accounts", "disable", "window-1") == 0
    assert not authenticate(url, "window-1", "clerk-password")
    assert run("accounts", "enable", "window-1") == 0
    assert authenticate(url, "window-1", "clerk-password")
    assert capsys.readouterr().out.splitlines() == [
        f"disabled window-1 in {url}",
        f"enabled window-1 in {url}",
    ]


def test_a_change_names_the_store_it_was_made_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without ``HRSS_STORE_URL`` the command writes to the demo's file where it ran:
    the answer says which file, whole, so that an account created in the wrong
    store is seen at once."""
    monkeypatch.delenv("HRSS_STORE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert run("accounts", "create-admin", "a1", "--password-stdin", stdin="admin-pass") == 0
    where = f"sqlite+aiosqlite:///{tmp_path.resolve()}/data/gateway.db"
    assert capsys.readouterr().out == f"created admin a1 (id 1) in {where}\n"
    assert authenticate(where, "a1", "admin-pass")


def test_a_store_password_is_not_shown() -> None:
    from gateway.store.database import shown_url

    shown = shown_url("postgresql+asyncpg://gateway:s3cret@db:5432/gateway")
    assert shown == "postgresql+asyncpg://gateway:***@db:5432/gateway"


def test_the_password_is_prompted_twice(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["admin-pass", "admin-pass", "first-pass", "other-pass"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert run("accounts", "create-admin", "admin1") == 0
    assert authenticate(url, "admin1", "admin-pass")
    assert run("accounts", "create-admin", "admin2") == 1  # the two entries differ


def test_errors_exit_1_with_a_message(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("accounts", "create-admin", "admin1", "--password-stdin", stdin="admin-pass\n") == 0
    capsys.readouterr()
    assert run("accounts", "create-admin", "ADMIN1", "--password-stdin", stdin="other-pass\n") == 1
    assert "taken" in capsys.readouterr().err
    assert (
        run(
            "accounts",
            "create-clerk",
            "c1",
            "--division",
            "3701",
            "--password-stdin",
            stdin="p" * 9,
        )
        == 1
    )
    assert "6-digit" in capsys.readouterr().err
    # A code of no division: a window that would reach no unit, refused before the
    # password is asked for (none is given here).
    assert run("accounts", "create-clerk", "c1", "--division", "379999") == 1
    assert "379999': Administrative division is not a known" in capsys.readouterr().err
    assert run("accounts", "create-admin", "admin3", "--password-stdin", stdin="short\n") == 1
    assert "at least" in capsys.readouterr().err
    assert run("accounts", "disable", "nobody") == 1
    assert "no account" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "username", "password", "code"),
    [
        (["create-admin"], "admin1", "12345678", "PASSWORD_BREACHED"),
        (["create-admin"], "admin1", "password", "PASSWORD_BREACHED"),
        (["create-clerk", "--division", "370102"], "c1", "qwertyuiop", "PASSWORD_BREACHED"),
        (["create-admin"], "admin1", "zzzzzzzzzz", "PASSWORD_TOO_COMMON"),
        (
            ["create-clerk", "--division", "370102"],
            "jinan-7",
            "JINAN-7-lantern",
            "PASSWORD_CONTAINS_USERNAME",
        ),
        (["create-admin"], "admin1", "short", "PASSWORD_TOO_SHORT"),
    ],
)
def test_weak_passwords_are_refused_on_each_backend(
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    username: str,
    password: str,
    code: str,
) -> None:
    monkeypatch.setenv("HRSS_STORE_URL", store_url)
    assert run("accounts", *command, username, "--password-stdin", stdin=password + "\n") == 1
    err = capsys.readouterr().err
    assert code in err
    assert "密码" in err  # both languages
    if password != "password":  # that one is also a word of the message
        assert password not in err
    assert run("accounts", "list") == 0
    assert capsys.readouterr().out == ""


def test_a_clerk_needs_a_division(url: str) -> None:
    with pytest.raises(SystemExit):
        run("accounts", "create-clerk", "c1", "--password-stdin")


def test_the_store_option_wins_over_the_environment(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    other = f"sqlite+aiosqlite:///{tmp_path}/other/gateway.db"
    assert (
        run(
            "accounts",
            "--store",
            other,
            "create-admin",
            "a1",
            "--password-stdin",
            stdin="admin-pass",
        )
        == 0
    )
    assert authenticate(other, "a1", "admin-pass")
    assert not authenticate(url, "a1", "admin-pass")
    assert run("accounts", "--store", "mysql://h/db", "list") == 1
    assert "cannot open the store" in capsys.readouterr().err


def test_an_operator_resets_a_password_and_moves_a_clerk(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            "accounts",
            "create-clerk",
            "window-2",
            "--division",
            "370102",
            "--password-stdin",
            stdin="forgotten-pass\n",
        )
        == 0
    )
    assert (
        run("accounts", "set-password", "Window-2", "--password-stdin", stdin="new-pass-2\n") == 0
    )
    assert not authenticate(url, "window-2", "forgotten-pass")
    assert authenticate(url, "window-2", "new-pass-2")
    assert run("accounts", "set-divisions", "window-2", "--division", "370200") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == [
        f"set the password of clerk window-2 in {url}; its earlier sessions are refused;"
        " to be changed at its next sign-in",
        f"window-2 now acts for 370200 in {url}",
    ]
    assert run("accounts", "list") == 0
    assert capsys.readouterr().out.splitlines() == ["window-2\tclerk\t370200\tactive\t"]
    # Refused, with the reason, nothing changed.
    for argv, stdin, reason in (
        (["set-password", "window-2", "--password-stdin"], "short\n", "PASSWORD_TOO_SHORT"),
        (["set-password", "nobody", "--password-stdin"], "another-pass\n", "nobody"),
        (["set-divisions", "window-2", "--division", "37"], "", "division"),
    ):
        assert run("accounts", *argv, stdin=stdin) == 1
        assert reason in capsys.readouterr().err
    assert authenticate(url, "window-2", "new-pass-2")
    assert run("accounts", "list") == 0
    assert capsys.readouterr().out.splitlines() == ["window-2\tclerk\t370200\tactive\t"]


AUDIT_KEY = "an-audit-key-of-32-bytes-or-more"


def keyed_records(url: str, key: str = AUDIT_KEY) -> tuple[list[tuple[object, ...]], bool]:
    """The audit log's records, oldest first, and whether its chain holds."""

    async def go() -> tuple[list[tuple[object, ...]], bool]:
        passwords = Passwords(HashParams.cheap())
        async with await Store.open(url, passwords=passwords, audit_key=key.encode()) as store:
            page = await store.audit.query(first=50)
            found = [(r.action, r.actor_username, r.channel, r.detail) for r in page.items]
            return found[::-1], (await store.audit.verify_chain()).ok

    return asyncio.run(go())


def test_with_the_audit_key_each_change_is_a_record_naming_the_operator(
    store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HRSS_STORE_URL", store_url)
    monkeypatch.setenv("HRSS_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.setattr("getpass.getuser", lambda: "ops-wang")
    clerk = ["create-clerk", "Window-9", "--division", "370100", "--password-stdin"]
    assert run("accounts", *clerk, stdin="lantern-orchid-9\n") == 0
    moved = ["set-divisions", "window-9", "--division", "370200", "--division", "370100"]
    assert run("accounts", *moved) == 0
    assert run("accounts", "set-password", "window-9", "--password-stdin", stdin="short\n") == 1
    assert (
        run("accounts", "set-password", "window-9", "--password-stdin", stdin="meadow-violin-9\n")
        == 0
    )
    assert run("accounts", "disable", "window-9") == 0
    assert run("accounts", "enable", "window-9") == 0
    assert (
        run("accounts", "create-admin", "root-2", "--password-stdin", stdin="harbor-lantern-22\n")
        == 0
    )
    assert run("accounts", "set-divisions", "root-2", "--division", "370100") == 1
    assert run("accounts", "disable", "nobody") == 1
    assert run("accounts", "list") == 0
    assert "not recorded" not in capsys.readouterr().err

    by = {"operator": "ops-wang", "by": "hrss-gateway accounts"}
    records, intact = keyed_records(store_url)
    # No actor nor channel: the operator on the server, named in the detail. What was
    # refused (a weak password, divisions for an administrator, no such account) and
    # what changed nothing (a list) left none.
    assert records == [
        ("create_clerk", None, None, {"account": "window-9", "divisions": ["370100"], **by}),
        (
            "set_clerk_divisions",
            None,
            None,
            {"account": "window-9", "divisions": ["370100", "370200"], **by},
        ),
        ("set_clerk_password", None, None, {"account": "window-9", **by}),
        ("disable_clerk", None, None, {"account": "window-9", **by}),
        ("enable_clerk", None, None, {"account": "window-9", **by}),
        ("create_admin", None, None, {"account": "root-2", **by}),
    ]
    assert intact


def test_another_key_changes_nothing_and_no_key_is_said(
    store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HRSS_STORE_URL", store_url)
    monkeypatch.setenv("HRSS_AUDIT_KEY", AUDIT_KEY)
    clerk = ["create-clerk", "window-9", "--division", "370100", "--password-stdin"]
    assert run("accounts", *clerk, stdin="lantern-orchid-9\n") == 0
    # Another store's key: its records would not chain with this store's.
    monkeypatch.setenv("HRSS_AUDIT_KEY", "another-audit-key-of-32-bytes-or-more")
    assert run("accounts", "disable", "window-9") == 1
    assert "HRSS_AUDIT_KEY is not the key" in capsys.readouterr().err
    monkeypatch.setenv("HRSS_AUDIT_KEY", "short")
    assert run("accounts", "disable", "window-9") == 1
    assert "HRSS_AUDIT_KEY must be at least" in capsys.readouterr().err
    assert authenticate(store_url, "window-9", "lantern-orchid-9")  # not disabled
    # Without a key the change is made, and the command says it was not recorded.
    monkeypatch.delenv("HRSS_AUDIT_KEY")
    assert run("accounts", "disable", "window-9") == 0
    assert "not recorded in the audit log" in capsys.readouterr().err
    assert not authenticate(store_url, "window-9", "lantern-orchid-9")
    records, intact = keyed_records(store_url)
    assert [r[0] for r in records] == ["create_clerk"]
    assert intact
