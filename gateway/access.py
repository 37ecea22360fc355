"""Who may see or do what: the one place where the graph's authorization is decided.

- An employer reaches its own employer and that employer's workers, submits
  and follows its own registrations.
- A clerk reaches the employers whose division lies within one of its
  divisions (a city code ``370100`` covers ``3701xx``; a province code
  ``370000`` covers ``37xxxx``), acts for them at a service window, opens their
  online accounts, and retries or cancels their registrations.
- An administrator reaches every employer, reads the audit log, and retries
  or cancels any registration, but submits none: administrators manage clerks
  and policy, not registrations.
- A role these rules do not name may do nothing.

Every rule is a method of ``Access``, so that a new role or a new rule is one
change here; the schema asks, and never compares roles itself
(``tests/gateway/test_access.py`` keeps that true).

Something a caller may not reach is reported exactly as something that does not
exist, so that probing reveals nothing: that is the schema's part.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.auth import Role
from gateway.store.model import Channel, covers_division


class Actor(Protocol):
    """Anything that acts: a stored account, or a caller proven some other way."""

    @property
    def role(self) -> Role | str: ...
    @property
    def credit_code(self) -> str | None: ...
    @property
    def divisions(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class Principal:
    """Who acts: all that rights depend on, and nothing more.

    No account id: an employer proven by a token of its own identity provider,
    with no gateway account yet, is a principal all the same.
    """

    role: Role
    credit_code: str | None = None  # an employer's own unit
    divisions: tuple[str, ...] = ()  # where a clerk's window acts

    @classmethod
    def of(cls, actor: Actor) -> Principal:
        """The principal of ``actor``; ``ValueError`` for a role no rule knows."""
        return cls(Role(actor.role), actor.credit_code, tuple(actor.divisions))


@dataclass(frozen=True, slots=True)
class EmployerScope:
    """Which employers a caller may list, and so whose registrations: ``None`` in a
    field means "any"."""

    credit_codes: tuple[str, ...] | None
    divisions: tuple[str, ...] | None

    def narrowed_to(self, credit_code: str) -> EmployerScope | None:
        """The scope cut down to one employer; None when that employer lies outside it."""
        if self.credit_codes is not None and credit_code not in self.credit_codes:
            return None
        return EmployerScope((credit_code,), self.divisions)


#: Matches no registration at all.
NOTHING = EmployerScope(credit_codes=(), divisions=())


@dataclass(frozen=True, slots=True)
class Access:
    """The rights of one principal, with the gateway's configured policy."""

    principal: Principal
    #: Roles that see full ID and mobile numbers (``GatewayConfig.reveal_roles``).
    reveal_roles: Collection[Role] = (Role.EMPLOYER, Role.CLERK)

    @classmethod
    def of(cls, actor: Actor, reveal_roles: Collection[Role | str]) -> Access:
        return cls(Principal.of(actor), tuple(Role(r) for r in reveal_roles))

    # ------------------------------------------------------------ employers

    def may_reach_employer(self, credit_code: str, division: str | None) -> bool:
        """The employer, its workers and its registrations."""
        p = self.principal
        match p.role:
            case Role.ADMIN:
                return True
            case Role.EMPLOYER:
                return p.credit_code is not None and p.credit_code == credit_code
            case Role.CLERK:
                return division is not None and covers_division(p.divisions, division)
            case _:
                return False

    def may_look_up_employer(self, credit_code: str) -> bool:
        """Whether the employer is worth looking up for this caller at all.

        An employer's right follows from the code alone, so asking the systems
        about another's code would only leak how long they take; a clerk's
        follows from the division, which only the lookup tells.
        """
        match self.principal.role:
            case Role.ADMIN | Role.CLERK:
                return True
            case Role.EMPLOYER:
                return self.may_reach_employer(credit_code, None)
            case _:
                return False

    def may_reveal(self) -> bool:
        """Full ID and mobile numbers, in a single-worker query only."""
        return self.principal.role in self.reveal_roles

    # -------------------------------------------------------- registrations

    def may_submit_registrations(self) -> bool:
        """Hires, changes and ends (for an employer it may reach)."""
        return self.principal.role in (Role.EMPLOYER, Role.CLERK)

    def may_retry_or_cancel(self) -> bool:
        """A registration that needs attention (one it may reach)."""
        return self.principal.role in (Role.CLERK, Role.ADMIN)

    def may_retry_or_cancel_follow_up(self) -> bool:
        """A follow-up left after a completed core (of a registration it may reach):
        whoever may submit for that employer (the employer, a clerk of its
        division), or retry and cancel (clerks, administrators)."""
        return self.may_submit_registrations() or self.may_retry_or_cancel()

    def employer_scope(self) -> EmployerScope:
        """The employers this caller may list (those it may reach), and so the
        registrations."""
        p = self.principal
        match p.role:
            case Role.ADMIN:
                return EmployerScope(credit_codes=None, divisions=None)
            case Role.EMPLOYER:
                codes = () if p.credit_code is None else (p.credit_code,)
                return EmployerScope(credit_codes=codes, divisions=None)
            case Role.CLERK:
                return EmployerScope(credit_codes=None, divisions=p.divisions)
            case _:
                return NOTHING

    def may_open_account_for(self, credit_code: str, division: str) -> bool:
        """Opening an employer's online account takes proof of who acts for it: the
        employer itself (proven by the identity platform, or with the account that
        proof opened) for its own unit, or a clerk at a window of its division.
        ``division`` is the one on record for a known unit, never one just typed."""
        match self.principal.role:
            case Role.EMPLOYER | Role.CLERK:
                return self.may_reach_employer(credit_code, division)
            case _:
                return False

    def may_sign_in_with_password(self, employer_passwords: bool) -> bool:
        """Clerks and administrators sign in with the gateway's passwords; employers
        only where employer passwords are on (off in production: the identity
        platform proves who acts for a unit)."""
        match self.principal.role:
            case Role.EMPLOYER:
                return employer_passwords
            case Role.CLERK | Role.ADMIN:
                return True
            case _:
                return False

    @property
    def at_window(self) -> bool:
        """Clerks act at a service window, and only they do."""
        return self.principal.role is Role.CLERK

    @property
    def channel(self) -> Channel:
        """Where the request comes from, for the audit log."""
        return Channel.SERVICE_WINDOW if self.at_window else Channel.GOVERNMENT_PORTAL

    # ---------------------------------------------------------------- forms

    def may_fetch_marked_form(self, uploader: Principal) -> bool:
        """A workbook marked with its problems: for whoever has the rights of the one
        who uploaded it (it holds the workers' personal data that upload carried)."""
        return self.principal == uploader and self.may_submit_registrations()

    # ---------------------------------------------------------------- audit

    def may_read_audit(self) -> bool:
        """The audit log and the check of its chain."""
        return self.principal.role is Role.ADMIN

    # ---------------------------------------------------------------- clerks

    def may_manage_clerks(self) -> bool:
        """Clerks' accounts: made, moved, reset, disabled (DESIGN.md: an administrator
        manages clerks). Administrators themselves are managed on the server."""
        return self.principal.role is Role.ADMIN

    def may_manage_account(self, account: Actor) -> bool:
        """``account`` in the graph: a clerk's only, so that a stolen administrator's
        token can neither make nor lock out administrators, nor touch an employer's."""
        return self.may_manage_clerks() and Role(account.role) is Role.CLERK
