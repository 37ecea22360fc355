"""The typed context of one GraphQL request: who asks, and fresh loaders."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strawberry.types import Info as StrawberryInfo

from gateway.access import Access, Principal
from gateway.auth import Role
from gateway.directory import EmployerDirectory
from gateway.domain.checks import check_credit_code
from gateway.domain.identifiers import normalize_credit_code
from gateway.errors import (
    account_not_open,
    from_adapter,
    identity_platform_unavailable,
    not_found,
    password_change_required,
    session_refused,
    unauthenticated,
)
from gateway.loaders import Loaders
from gateway.store.model import Account, AuditResult, EmployerRecord
from gateway.systems import AdapterError

if TYPE_CHECKING:
    from gateway.oidc import ProvenEmployer as ProvenIdentity
    from gateway.services import Gateway


@dataclass
class Context:
    gateway: Gateway
    directory: EmployerDirectory
    loaders: Loaders
    account: Account | None
    #: Set when the request carried a token that was refused (expired, forged, revoked).
    token_refused: bool = False
    #: An employer proven by the identity platform's token; ``account`` is its
    #: account once opened, None before.
    proven: ProvenIdentity | None = None
    #: The identity platform could not be asked to check the token.
    provider_unavailable: bool = False
    request: Any = None
    response: Any = None
    #: A WebSocket's ``connection_init`` payload (where browsers put their token).
    connection_params: Any = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: Whether the credential this context was signed in with still signs it in
    #: (not expired, the account neither disabled nor its password set since):
    #: asked again where a connection outlives its request (``still_signed_in``).
    reauthenticate: Callable[[], Awaitable[bool]] | None = None

    async def still_signed_in(self) -> bool:
        """For each operation on a WebSocket and each turn of a subscription: a
        socket or a stream opened with a token must not outlive what the token
        was worth (a stolen one, its account disabled since, kept its socket)."""
        return self.reauthenticate is None or await self.reauthenticate()

    def require_account(self, *, password_change_pending: bool = False) -> Account:
        """The account acting; refused unauthenticated, and, while its password is
        one an administrator gave, for all but what ``password_change_pending``
        allows (who am I, change it)."""
        if self.account is None:
            if self.provider_unavailable:
                raise identity_platform_unavailable()
            if self.proven is not None:
                raise account_not_open()
            raise session_refused() if self.token_refused else unauthenticated()
        if self.account.password_must_change and not password_change_pending:
            raise password_change_required()
        return self.account

    @property
    def access(self) -> Access:
        return Access.of(self.require_account(), self.gateway.config.reveal_roles)

    def acting_access(self) -> Access:
        """The rights of whoever acts, with an account or, before the employer's
        account is opened, with the identity platform's proof alone."""
        if self.account is None and self.proven is not None:
            principal = Principal(Role.EMPLOYER, self.proven.credit_code)
            return Access.of(principal, self.gateway.config.reveal_roles)
        return self.access

    async def employer(self, credit_code: str) -> EmployerRecord:
        """The employer, if this caller may reach it; otherwise NOT_FOUND either way.
        The code as typed: full width, lower case and spaces are read as the code
        (``normalize_credit_code``), on every path that comes here.

        A unit the gateway has not met, that no system that answered knows, while a
        system could not be asked, is that system's error (SYSTEM_UNAVAILABLE), not
        NOT_FOUND: it may exist there. Only for a caller who may look the unit up:
        anyone else is answered NOT_FOUND before any system is asked."""
        access = self.access
        credit_code = normalize_credit_code(credit_code)
        if check_credit_code(credit_code):
            raise not_found("employer", "用人单位")  # no such code can exist: ask no system
        if not access.may_look_up_employer(credit_code):
            raise not_found("employer", "用人单位")
        try:
            record = await self.directory.get(credit_code)
        except AdapterError as exc:
            raise from_adapter(exc) from None
        if record is None or not access.may_reach_employer(record.credit_code, record.division):
            raise not_found("employer", "用人单位")
        return record

    async def audit_worker_read(
        self, employer: EmployerRecord | None, id_type: str, id_number: str, result: AuditResult
    ) -> None:
        """Every read of one worker's personal data leaves a record (who, when, which
        worker, for which employer, through which channel, with what result); None: a
        person asked for at no employer the caller reaches."""
        await self.gateway.store.audit.record(
            actor=self.require_account(),
            action="read_worker",
            id_type=id_type,
            id_number=id_number,
            credit_code=None if employer is None else employer.credit_code,
            channel=self.access.channel,
            result=result,
        )


def build_context(gateway: Gateway, account: Account | None, **kwargs: Any) -> Context:
    adapters = gateway.adapters
    return Context(
        gateway=gateway,
        directory=EmployerDirectory(gateway.store, gateway.cache, adapters),
        loaders=Loaders(adapters, gateway.cache),
        account=account,
        **kwargs,
    )


Info = StrawberryInfo[Context, None]
