"""``hrss-gateway accounts ...``: clerks and administrators, from the command line.

Employer accounts are opened through the graph (``openAccount``), bound to
their unit; this command is for the people who run the gateway.

With the gateway's audit key (``HRSS_AUDIT_KEY``, checked against the store's)
each change is also a record of the chained audit log, written in the change's
own transaction, naming the operator (the system user who ran the command):
who gave whom which rights stays when the logs are gone. Without the key the
change is made and the command says it was not recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from gateway.auth import HashParams, Passwords, Role
from gateway.settings import DEFAULT_STORE_URL
from gateway.store.model import Account, InvalidRecord, StoreError, WeakPassword

if TYPE_CHECKING:
    from gateway.store.accounts import Also
    from gateway.store.store import Store


def add_accounts_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``accounts`` command and its subcommands to ``subparsers``."""
    accounts = subparsers.add_parser(
        "accounts",
        help="create, list, disable and reset clerk and administrator accounts",
        description="Manage the gateway's clerk and administrator accounts.",
    )
    accounts.add_argument(
        "--store",
        metavar="URL",
        default=os.environ.get("HRSS_STORE_URL", DEFAULT_STORE_URL),
        help="the store (default: $HRSS_STORE_URL or %(default)s)",
    )
    commands = accounts.add_subparsers(dest="accounts_command", required=True)

    clerk = commands.add_parser(
        "create-clerk", help="a service-window clerk bound to one or more divisions"
    )
    clerk.add_argument("username")
    _division_option(clerk)
    clerk.add_argument("--name", help="display name")
    _password_options(clerk)
    _permanent_option(clerk)
    clerk.set_defaults(run=_runner(_create, Role.CLERK))

    admin = commands.add_parser("create-admin", help="an administrator")
    admin.add_argument("username")
    admin.add_argument("--name", help="display name")
    _password_options(admin)
    admin.set_defaults(run=_runner(_create, Role.ADMIN))

    listing = commands.add_parser("list", help="list accounts")
    listing.add_argument("--role", choices=[r.value for r in Role])
    listing.set_defaults(run=_runner(_list))

    disable = commands.add_parser("disable", help="stop an account from signing in")
    disable.add_argument("username")
    disable.set_defaults(run=_runner(_set_disabled, True))

    enable = commands.add_parser("enable", help="let a disabled account sign in again")
    enable.add_argument("username")
    enable.set_defaults(run=_runner(_set_disabled, False))

    password = commands.add_parser(
        "set-password",
        help="a new password for a clerk or an administrator; the sessions of the old one end",
    )
    password.add_argument("username")
    _password_options(password)
    _permanent_option(password)
    password.set_defaults(run=_runner(_set_password))

    divisions = commands.add_parser(
        "set-divisions", help="the divisions a clerk's window acts for from now on"
    )
    divisions.add_argument("username")
    _division_option(divisions)
    divisions.set_defaults(run=_runner(_set_divisions))


def _division_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--division",
        action="append",
        required=True,
        metavar="CODE",
        help="six-digit GB/T 2260 division the window serves (repeat for several; "
        "a city's code covers its districts)",
    )


def _divisions(given: list[str]) -> list[str]:
    """Known divisions (GB/T 2260), as the graph takes a clerk's: a code mistyped
    gives a window that reaches no unit. Abolished ones are taken: units may
    still be on record under them."""
    from gateway.domain.checks import check_division

    codes = [code.strip() for code in given]
    for code in codes:
        for problem in check_division(code, field="--division", abolished=True):
            raise InvalidRecord(f"{code!r}: {problem.message_en}")
    return codes


def _password_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (default: prompt)",
    )


def _permanent_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--permanent",
        action="store_true",
        help="keep the password as the account's own (default: whoever runs this knows it, "
        "so the account must change it before doing anything else)",
    )


def _runner(action: Callable[..., Awaitable[int]], *bound: object) -> Callable[..., int]:
    def run(args: argparse.Namespace) -> int:
        return asyncio.run(_with_store(args, lambda store: action(store, args, *bound)))

    return run


async def _with_store(args: argparse.Namespace, action: Callable[[Store], Awaitable[int]]) -> int:
    # Here, not at the top: building the parser (every ``hrss-gateway`` command
    # does, stand-ins included) must not load SQLAlchemy.
    from gateway.auth import ConfigurationError, secret_from_env
    from gateway.store.store import Store

    if args.accounts_command == "list":
        from gateway.cli import no_store_at

        missing = no_store_at(args.store)
        if missing is not None:
            print(f"hrss-gateway accounts: {missing}", file=sys.stderr)
            return 1
    try:
        key = secret_from_env("HRSS_AUDIT_KEY") if os.environ.get("HRSS_AUDIT_KEY") else None
        store = await Store.open(
            args.store, passwords=Passwords(HashParams.from_env()), audit_key=key
        )
    except (OSError, ValueError, ConfigurationError) as e:
        # A wrong key, above all: its records would not chain with the store's.
        print(f"hrss-gateway accounts: cannot open the store: {e}", file=sys.stderr)
        return 1
    if args.accounts_command != "list" and not store.audited:
        print(
            "hrss-gateway accounts: HRSS_AUDIT_KEY is not set: the change is logged but "
            "not recorded in the audit log",
            file=sys.stderr,
        )
    try:
        return await action(store)
    except WeakPassword as e:
        # Both languages: whoever runs the command reads one of them.
        print(f"hrss-gateway accounts: {e.code}: {e.message_en} {e.message_zh}", file=sys.stderr)
        return 1
    except StoreError as e:
        print(f"hrss-gateway accounts: {e}", file=sys.stderr)
        return 1
    finally:
        await store.close()


def _recorded(
    store: Store, verb: str, role: Role | None, username: str, **detail: object
) -> Also | None:
    """The audit log's record of the change to ``username``'s account, in its
    transaction; None without the key (or without the account, which the change
    itself reports)."""
    if role is None or not store.audited:
        return None
    from gateway.store.accounts import normalize_username
    from gateway.store.audit import account_action, account_change

    detail = {
        "account": normalize_username(username),
        **detail,
        "operator": _operator(),
        "by": "hrss-gateway accounts",
    }
    action = account_action(verb, role)
    return account_change(store.audit, actor=None, action=action, channel=None, detail=detail)


def _operator() -> str:
    """The system user running the command (what the server's own logs know them by)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container's, say)
        return f"uid {os.getuid()}"


async def _role_of(store: Store, username: str) -> Role | None:
    """The role of the account a change is for: its record names it (None: no such
    account, which the change itself reports)."""
    account = await store.accounts.get(username)
    return None if account is None else Role(account.role)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise StoreError("the two passwords differ")
    return first


async def _create(store: Store, args: argparse.Namespace, role: Role) -> int:
    # Before the password is asked for: a mistyped division is told at once.
    divisions = _divisions(args.division) if role is Role.CLERK else []
    password = _read_password(args)
    # A clerk's first password is the operator's: the clerk replaces it. An
    # administrator made here is, most often, the operator's own account.
    temporary = role is Role.CLERK and not args.permanent
    account = await store.accounts.create(
        args.username,
        password,
        role,
        display_name=args.name,
        divisions=divisions,
        must_change=temporary,
        also=_recorded(
            store, "create", role, args.username, **({"divisions": divisions} if divisions else {})
        ),
    )
    print(
        f"created {account.role} {account.username} (id {account.id}) in {_where(args)}"
        + _to_change(temporary)
    )
    return 0


async def _list(store: Store, args: argparse.Namespace) -> int:
    for account in await store.accounts.list(args.role):
        print(_line(account))
    return 0


async def _set_disabled(store: Store, args: argparse.Namespace, disabled: bool) -> int:
    role = await _role_of(store, args.username)
    verb = "disable" if disabled else "enable"
    account = await store.accounts.set_disabled(
        args.username,
        disabled,
        also=_recorded(store, verb, role, args.username),
    )
    state = "disabled" if account.disabled else "enabled"
    print(f"{state} {account.username} in {_where(args)}")
    return 0


async def _set_password(store: Store, args: argparse.Namespace) -> int:
    temporary = not args.permanent
    role = await _role_of(store, args.username)
    account = await store.accounts.set_password(
        args.username,
        _read_password(args),
        must_change=temporary,
        also=_recorded(store, "password", role, args.username),
    )
    print(
        f"set the password of {account.role} {account.username} in {_where(args)}; "
        "its earlier sessions are refused" + _to_change(temporary)
    )
    return 0


async def _set_divisions(store: Store, args: argparse.Namespace) -> int:
    divisions = _divisions(args.division)
    account = await store.accounts.set_divisions(
        args.username,
        divisions,
        also=_recorded(
            store,
            "divisions",
            Role.CLERK,  # only a clerk has divisions: any other is refused, nothing recorded
            args.username,
            divisions=sorted(set(divisions)),
        ),
    )
    print(f"{account.username} now acts for {','.join(account.divisions)} in {_where(args)}")
    return 0


def _to_change(temporary: bool) -> str:
    return "; to be changed at its next sign-in" if temporary else ""


def _where(args: argparse.Namespace) -> str:
    """The store written to: without ``HRSS_STORE_URL`` the command writes to the
    demo's file under the directory it ran in, which is easy to miss."""
    from gateway.store.database import shown_url

    return shown_url(args.store)


def _line(account: Account) -> str:
    scope = account.credit_code or ",".join(account.divisions) or "-"
    state = "disabled" if account.disabled else "active"
    return "\t".join(
        [account.username, account.role.value, scope, state, account.display_name or ""]
    )
