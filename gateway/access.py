"""Who may reach what: the one place where the graph's authorization is decided.

- An employer account reaches its own employer and that employer's workers.
- A clerk reaches the employers whose division lies within one of its
  divisions (a city code ``370100`` covers ``3701xx``; a province code
  ``370000`` covers ``37xxxx``).
- An administrator reaches every employer.

Something a caller may not reach is reported exactly as something that does not
exist, so that probing reveals nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.store.model import covers_division


class Principal(Protocol):
    """The part of an account that rights depend on."""

    @property
    def id(self) -> int: ...
    @property
    def username(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def credit_code(self) -> str | None: ...
    @property
    def divisions(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class UnopenedEmployer:
    """An employer proven by the identity platform that has no account here yet."""

    credit_code: str
    id: int = 0
    username: str = ""
    role: str = "employer"
    divisions: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Access:
    principal: Principal
    reveal_roles: tuple[str, ...]

    @property
    def role(self) -> str:
        return str(self.principal.role)

    def may_reach_employer(self, credit_code: str, division: str | None) -> bool:
        role = self.role
        if role == "admin":
            return True
        if role == "employer":
            return self.principal.credit_code == credit_code
        if role == "clerk":
            return division is not None and covers_division(self.principal.divisions, division)
        return False

    def may_sign_in_with_password(self, employer_passwords: bool) -> bool:
        """Clerks and administrators sign in with the gateway's passwords; employers
        only where employer passwords are on (off in production: the identity
        platform proves who acts for a unit)."""
        return self.role != "employer" or employer_passwords

    def may_open_account_for(self, credit_code: str, division: str) -> bool:
        """Opening an employer's account takes proof of who acts for it: the employer
        itself (signed in through the identity platform, or with the account that
        proof opened) for its own unit, or a clerk at a window of its division."""
        if self.role not in ("employer", "clerk"):
            return False
        return self.may_reach_employer(credit_code, division)

    def may_reveal(self) -> bool:
        """Full ID and mobile numbers, in a single-worker query only."""
        return self.role in self.reveal_roles

    @property
    def channel(self) -> str:
        """Where the request comes from, for the audit log: clerks act at a window."""
        return "service_window" if self.role == "clerk" else "government_portal"
