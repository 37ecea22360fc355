"""The access rules alone: role × action × target → allowed, and a scan that keeps
every role decision inside ``gateway/access.py``."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from gateway.access import NOTHING, Access, EmployerScope, Principal
from gateway.auth import Role
from gateway.store.model import Channel

OWN = "91370100MA3C1B2X3Y"
OTHER = "91370200MA3C1B2X3Y"

EMPLOYER = Principal(Role.EMPLOYER, credit_code=OWN)
CITY_CLERK = Principal(Role.CLERK, divisions=("370100",))  # 济南市: 3701xx
PROVINCE_CLERK = Principal(Role.CLERK, divisions=("370000",))  # 山东省: 37xxxx
DISTRICT_CLERK = Principal(Role.CLERK, divisions=("370102",))  # 历下区 only
TWO_DISTRICTS = Principal(Role.CLERK, divisions=("370102", "370203"))
ADMIN = Principal(Role.ADMIN)


#: A principal whose role the rules have never heard of: built past ``Principal.of``,
#: which refuses it, to show the rules themselves refuse it too.
STRANGER = Principal(cast(Role, "auditor"), credit_code=OWN, divisions=("370000",))


def access(p: Principal) -> Access:
    return Access(p, reveal_roles=(Role.EMPLOYER, Role.CLERK))


# (who, credit code, division of that employer) → may reach
REACH = [
    (EMPLOYER, OWN, "370102", True),
    (EMPLOYER, OWN, None, True),
    (EMPLOYER, OTHER, "370102", False),  # another employer, even in the same district
    (CITY_CLERK, OTHER, "370102", True),  # city covers its districts
    (CITY_CLERK, OTHER, "370100", True),
    (CITY_CLERK, OTHER, "370202", False),  # another city
    (CITY_CLERK, OTHER, None, False),  # no division known: not within any
    (PROVINCE_CLERK, OTHER, "370102", True),
    (PROVINCE_CLERK, OTHER, "370202", True),
    (PROVINCE_CLERK, OTHER, "410102", False),  # another province
    (DISTRICT_CLERK, OTHER, "370102", True),
    (DISTRICT_CLERK, OTHER, "370103", False),  # a neighbouring district
    (DISTRICT_CLERK, OTHER, "370100", False),  # a district does not cover its city
    (TWO_DISTRICTS, OTHER, "370203", True),
    (TWO_DISTRICTS, OTHER, "370103", False),
    (ADMIN, OTHER, "410102", True),
    (ADMIN, OTHER, None, True),
    (STRANGER, OWN, "370102", False),
]


@pytest.mark.parametrize(("who", "code", "division", "allowed"), REACH)
def test_may_reach_employer(who: Principal, code: str, division: str | None, allowed: bool) -> None:
    assert access(who).may_reach_employer(code, division) is allowed


# (who, action) → allowed, for the actions that take no target
ACTIONS: dict[str, Any] = {
    "reveal": lambda a: a.may_reveal(),
    "submit": lambda a: a.may_submit_registrations(),
    "retry_or_cancel": lambda a: a.may_retry_or_cancel(),
    "follow_up": lambda a: a.may_retry_or_cancel_follow_up(),
    "read_audit": lambda a: a.may_read_audit(),
    "at_window": lambda a: a.at_window,
}
TABLE = {
    EMPLOYER: {"reveal", "submit", "follow_up"},
    CITY_CLERK: {"reveal", "submit", "retry_or_cancel", "follow_up", "at_window"},
    ADMIN: {"retry_or_cancel", "follow_up", "read_audit"},
    STRANGER: set(),
}


@pytest.mark.parametrize("who", list(TABLE))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_actions_by_role(who: Principal, action: str) -> None:
    assert ACTIONS[action](access(who)) is (action in TABLE[who])


def test_reveal_follows_the_configured_roles() -> None:
    assert Access(ADMIN, reveal_roles=(Role.ADMIN,)).may_reveal()
    assert not Access(EMPLOYER, reveal_roles=(Role.CLERK,)).may_reveal()
    assert not Access(STRANGER, reveal_roles=tuple(Role)).may_reveal()


@pytest.mark.parametrize(
    ("who", "code", "allowed"),
    [
        (EMPLOYER, OWN, True),
        (EMPLOYER, OTHER, False),  # refused before any system is asked
        (CITY_CLERK, OTHER, True),  # its right depends on the division the lookup finds
        (ADMIN, OTHER, True),
        (STRANGER, OWN, False),
    ],
)
def test_may_look_up_employer(who: Principal, code: str, allowed: bool) -> None:
    assert access(who).may_look_up_employer(code) is allowed


@pytest.mark.parametrize(
    ("who", "code", "division", "allowed"),
    [
        (CITY_CLERK, OTHER, "370102", True),
        (CITY_CLERK, OTHER, "370202", False),  # not its window's employer
        (DISTRICT_CLERK, OTHER, "370103", False),
        (EMPLOYER, OWN, "370102", True),  # proven: its own unit, merged again
        (EMPLOYER, OTHER, "370102", False),  # never another unit
        (ADMIN, OTHER, "370102", False),
        (STRANGER, OWN, "370102", False),
    ],
)
def test_may_open_account_for(who: Principal, code: str, division: str, allowed: bool) -> None:
    assert access(who).may_open_account_for(code, division) is allowed


@pytest.mark.parametrize(
    ("who", "channel"),
    [
        (CITY_CLERK, Channel.SERVICE_WINDOW),
        (EMPLOYER, Channel.GOVERNMENT_PORTAL),
        (ADMIN, Channel.GOVERNMENT_PORTAL),
    ],
)
def test_channel(who: Principal, channel: Channel) -> None:
    assert access(who).channel is channel


@pytest.mark.parametrize(
    ("who", "scope"),
    [
        (EMPLOYER, EmployerScope(credit_codes=(OWN,), divisions=None)),
        (CITY_CLERK, EmployerScope(credit_codes=None, divisions=("370100",))),
        (ADMIN, EmployerScope(credit_codes=None, divisions=None)),
        (STRANGER, NOTHING),
    ],
)
def test_employer_scope(who: Principal, scope: EmployerScope) -> None:
    assert access(who).employer_scope() == scope


def test_scope_narrowed_to_one_employer() -> None:
    own = access(EMPLOYER).employer_scope()
    assert own.narrowed_to(OWN) == EmployerScope((OWN,), None)
    assert own.narrowed_to(OTHER) is None  # another employer's: nothing to list
    clerk = access(CITY_CLERK).employer_scope()
    # A clerk names any employer, and still sees only those of its divisions.
    assert clerk.narrowed_to(OTHER) == EmployerScope((OTHER,), ("370100",))
    assert access(ADMIN).employer_scope().narrowed_to(OTHER) == EmployerScope((OTHER,), None)


@dataclass
class _Actor:
    role: str
    credit_code: str | None = None
    divisions: tuple[str, ...] = ()


def test_principal_of_an_actor_needs_no_account_id() -> None:
    p = Principal.of(_Actor("employer", credit_code=OWN))
    assert p == EMPLOYER
    assert p.role is Role.EMPLOYER


def test_unknown_role_refused_at_the_door() -> None:
    with pytest.raises(ValueError, match="auditor"):
        Principal.of(_Actor("auditor"))
    with pytest.raises(ValueError, match="auditor"):
        Access.of(_Actor("clerk", divisions=("370100",)), reveal_roles=("auditor",))


# ------------------------------------------------ role decisions stay in access.py

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
ROLE_NAMES = {r.value for r in Role}


def _role_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in ROLE_NAMES
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_role_literal(e) for e in node.elts)
    return False


def _role_ref(node: ast.expr) -> bool:
    """``x.role``, ``role``, ``actor_role`` or ``Role.X``."""
    if isinstance(node, ast.Attribute):
        if node.attr.endswith("role"):
            return True
        return isinstance(node.value, ast.Name) and node.value.id == "Role"
    if isinstance(node, ast.Name):
        return node.id.endswith("role")
    return False


def role_decisions(source: str, *, any_role_comparison: bool) -> list[int]:
    """Lines comparing a role with a role's name (and, with ``any_role_comparison``,
    comparing or matching a role at all)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            with_name = any(_role_literal(o) for o in operands) and any(
                not isinstance(o, ast.Constant) for o in operands
            )
            # ``x.role is None`` asks whether there is a role, not which.
            with_role = any(_role_ref(o) for o in operands) and not any(map(_none, operands))
            if with_name or (any_role_comparison and with_role):
                lines.append(node.lineno)
        elif isinstance(node, ast.Match) and any_role_comparison and _role_ref(node.subject):
            lines.append(node.lineno)
    return sorted(lines)


def _none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def test_the_scan_finds_what_it_looks_for() -> None:
    found = role_decisions(
        "if account.role == 'admin': pass\n"
        "if ctx.require_account().role not in ('clerk', 'admin'): pass\n"
        "if role is Role.CLERK: pass\n"
        "match a.role:\n    case _: pass\n"
        "if name == 'clerk': pass\n"
        "if access.may_read_audit(): pass\n"
        "x = None if r.actor_role is None else 1\n",
        any_role_comparison=True,
    )
    assert found == [1, 2, 3, 4, 6]
    assert role_decisions("if role is Role.CLERK: pass\n", any_role_comparison=False) == []


#: Places that compare roles for another reason than who may do what.
NOT_DECISIONS = {
    "access.py",  # the rules themselves
    "app.py",  # a token's role must still be its account's: or the session is refused
    "store/accounts.py",  # an account's shape: an employer has a credit code, a clerk divisions
    "store/cli.py",  # only a clerk is created with divisions
}


def test_no_role_decision_outside_the_access_rules() -> None:
    offenders = []
    for path in sorted(GATEWAY.rglob("*.py")):
        rel = path.relative_to(GATEWAY).as_posix()
        if rel in NOT_DECISIONS:
            continue
        # The schema, the registrations and the HTTP layer compare no role at all.
        strict = rel.startswith(("schema/", "registrations/", "http/"))
        for line in role_decisions(path.read_text(encoding="utf-8"), any_role_comparison=strict):
            offenders.append(f"gateway/{rel}:{line}")
    assert offenders == [], "role decisions belong in gateway/access.py"
