"""The social insurance system (社会保险登记) as the gateway sees it: ``SocialInsuranceAdapter``.

It satisfies ``SocialInsuranceSystem`` (``protocol.py``): unified model in,
unified model and the gateway's error taxonomy out. Signing, encryption and the
system's names and codes stay in ``client.py``, ``crypto.py`` and ``mapping.py``.
The gateway builds it through the package's registration (``system.py``) when a
deployment switches the system on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from adapters.http import bind_existing
from adapters.social_insurance import mapping
from adapters.social_insurance.client import Answer, SocialInsuranceClient
from adapters.social_insurance.model import (
    SYSTEM,
    AdditionRequest,
    Declaration,
    DeclarationKind,
    DeclarationState,
    Insurance,
    RemovalRequest,
    StopReason,
)
from adapters.social_insurance.protocol import SocialInsuranceSystem
from adapters.social_insurance.settings import SocialInsuranceSettings
from gateway.domain.model import EmployerBinding, EmployerProfile, IdType
from gateway.systems import AdapterError, Duplicate, NotFound, Rejected, Unavailable

__all__ = ["SocialInsuranceAdapter", "SocialInsuranceSettings", "SocialInsuranceSystem"]

# The contract has no health check. No unit has an all-zero credit code, so
# looking it up costs one read, changes nothing, and proves that the system
# answers and accepts our signature.
_PING_CODE = "0" * 18

#: What a refused removal (``1003``) says where the system sent no words of its own.
NOT_INSURED_HERE_ZH = "该劳动者未在本单位参保"
REMOVAL_UNDER_REVIEW_ZH = "该劳动者已有减员申报正在受理"


class SocialInsuranceAdapter:
    """社会保险: unit registration, additions and removals of insured workers."""

    system = SYSTEM

    def __init__(
        self, settings: SocialInsuranceSettings, client: httpx.AsyncClient, *, owns_client: bool
    ) -> None:
        self._settings = settings
        self._http = client
        self._owns_client = owns_client
        self._client = SocialInsuranceClient(settings, client)

    @classmethod
    def from_settings(
        cls,
        settings: SocialInsuranceSettings | None = None,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> SocialInsuranceAdapter:
        """Build the adapter (settings from the environment when not given); a
        client passed in stays the caller's to close."""
        settings = settings or SocialInsuranceSettings.from_env()
        if client is not None:
            return cls(settings, client, owns_client=False)
        return cls(settings, httpx.AsyncClient(), owns_client=True)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._http.aclose()

    # ------------------------------------------------------------ employers

    async def find_employer(self, credit_code: str) -> EmployerBinding | None:
        answer = await self._client.call("GET", "/units/" + quote(credit_code, safe=""))
        if answer.code == mapping.NO_SUCH_UNIT:
            return None
        return self._binding(self._data(answer), created=False)

    async def ensure_employer(self, profile: EmployerProfile) -> EmployerBinding:
        answer = await self._client.call(
            "POST", "/units", body=mapping.employer_to_legacy(profile), write=True
        )
        if answer.ok:
            return EmployerBinding(
                self.system, self._text(answer, "dwbh", write=True), profile, True
            )
        error = self._error(answer, write=True)
        if not isinstance(error, Duplicate):
            raise error
        return await bind_existing(self, profile, error)

    async def ping(self) -> None:
        answer = await self._client.call("GET", "/units/" + _PING_CODE)
        if answer.ok:
            return
        error = self._error(answer)
        # Any business answer (HTTP 200, the envelope) proves it: 1004, or the code
        # refused as invalid (1400: a system may check a look-up's input). Not a
        # refusal of our signature or clock (misconfigured), nor its trouble.
        if (
            answer.status == 200
            and isinstance(error, Rejected)
            and answer.code not in (mapping.BAD_SIGNATURE, mapping.STALE_TIMESTAMP)
        ):
            return
        raise error

    # --------------------------------------------------------- declarations

    async def declare_addition(self, request: AdditionRequest) -> str:
        body = self._legacy(mapping.addition_to_legacy, request)
        p = request.person
        answer = await self._client.call("POST", "/declarations/additions", body=body, write=True)
        if answer.ok:
            return self._text(answer, "slh", write=True)
        error = self._error(answer, write=True, personal=(p.id_number, p.name))
        if isinstance(error, Duplicate):
            error.existing_reference = await self._under_review(
                request.employer_id, p.id_type, p.id_number, DeclarationKind.ADDITION
            )
        raise error

    async def declare_removal(self, request: RemovalRequest) -> str:
        body = self._legacy(mapping.removal_to_legacy, request)
        answer = await self._client.call("POST", "/declarations/removals", body=body, write=True)
        if answer.ok:
            return self._text(answer, "slh", write=True)
        error = self._error(answer, write=True, personal=(request.id_number,))
        if not isinstance(error, Rejected) or error.system_code != mapping.NOT_INSURED_HERE:
            raise error
        # 1003 says two things; the worker's declarations tell which. Either carries
        # the system's own words, as every refusal does (what a Chinese message
        # quotes: ``gateway.systems.quoted``), or, where it sent none, ours in Chinese.
        pending = await self._under_review(
            request.employer_id, request.id_type, request.id_number, DeclarationKind.REMOVAL
        )
        if pending is not None:
            raise Duplicate(
                SYSTEM,
                "a removal of the worker is already under review",
                system_code=error.system_code,
                field="id_number",
                existing_reference=pending,
            ).saying(error.said or REMOVAL_UNDER_REVIEW_ZH)
        raise NotFound(
            SYSTEM,
            "the worker is not insured with the unit",
            system_code=error.system_code,
            field="id_number",
        ).saying(error.said or NOT_INSURED_HERE_ZH)

    async def declaration(self, reference: str) -> Declaration:
        answer = await self._client.call("GET", "/declarations/" + quote(reference, safe=""))
        return _declaration(self._data(answer))

    async def find_declarations(
        self, employer_id: str, id_type: IdType, id_number: str
    ) -> list[Declaration]:
        body = self._legacy(mapping.search_to_legacy, employer_id, id_type, id_number)
        answer = await self._client.call("POST", "/declarations/search", body=body)
        if not answer.ok:
            raise self._error(answer, personal=(id_number,))
        return [_declaration(row) for row in _rows(answer.data)]

    async def withdraw(self, reference: str) -> None:
        answer = await self._client.call(
            "POST", f"/declarations/{quote(reference, safe='')}/withdraw", write=True
        )
        if not answer.ok:
            raise self._error(answer, write=True)

    async def reverse(self, reference: str, *, restore: AdditionRequest | None = None) -> str:
        done = await self.declaration(reference)
        if done.state is not DeclarationState.APPROVED or done.effective_on is None:
            hint = " (withdraw it)" if done.state is DeclarationState.UNDER_REVIEW else ""
            raise Rejected(
                SYSTEM,
                f"only an approved declaration is reversed; this one is {done.state.value}{hint}",
                field="reference",
            )
        if done.kind is DeclarationKind.ADDITION:
            # Insurance stops the day it started: the addition comes to nothing.
            return await self.declare_removal(
                RemovalRequest(
                    done.employer_id,
                    done.id_type,
                    done.id_number,
                    done.effective_on,
                    StopReason.OTHER,
                )
            )
        if restore is None:
            raise ValueError("reversing a removal needs the addition to declare again")
        if (restore.employer_id, restore.person.id_number) != (done.employer_id, done.id_number):
            raise ValueError("the addition to restore is of another worker or unit")
        # Insured again from the day the removal stopped it: no gap.
        return await self.declare_addition(
            dataclasses.replace(restore, start_date=done.effective_on)
        )

    async def insurance(self, id_type: IdType, id_number: str) -> list[Insurance]:
        body = self._legacy(mapping.person_to_legacy, id_type, id_number)
        answer = await self._client.call("POST", "/insured/search", body=body)
        if not answer.ok:
            raise self._error(answer, personal=(id_number,))
        try:
            return [mapping.insurance_from_legacy(row) for row in _rows(answer.data)]
        except mapping.LegacyFormatError as exc:
            raise _unreadable(write=False, field=exc.field) from None

    # -------------------------------------------------------------- helpers

    async def _under_review(
        self, employer_id: str, id_type: IdType, id_number: str, kind: DeclarationKind
    ) -> str | None:
        """The declaration of this kind under review, when a search finds it."""
        try:
            found = await self.find_declarations(employer_id, id_type, id_number)
        except (Unavailable, Rejected):
            return None
        return next(
            (
                d.reference
                for d in found
                if d.kind is kind and d.state is DeclarationState.UNDER_REVIEW
            ),
            None,
        )

    @staticmethod
    def _legacy(build: Any, *args: Any) -> dict[str, Any]:
        """Map to the system's record; a value it cannot take is refused unsent."""
        try:
            legacy: dict[str, Any] = build(*args)
        except mapping.MappingError as exc:
            raise Rejected(SYSTEM, str(exc), field=exc.field) from None
        return legacy

    def _data(self, answer: Answer) -> dict[str, Any]:
        if not answer.ok:
            raise self._error(answer)
        if not isinstance(answer.data, dict):
            raise _unreadable(write=False)
        return answer.data

    def _text(self, answer: Answer, name: str, *, write: bool) -> str:
        value = answer.data.get(name) if isinstance(answer.data, dict) else None
        if not isinstance(value, str) or not value:
            raise _unreadable(write=write)
        return value

    def _binding(self, unit: dict[str, Any], *, created: bool) -> EmployerBinding:
        try:
            dwbh, profile = mapping.employer_from_legacy(unit)
        except mapping.LegacyFormatError as exc:
            raise _unreadable(write=False, field=exc.field) from None
        return EmployerBinding(self.system, dwbh, profile, created=created)

    @staticmethod
    def _error(
        answer: Answer, *, write: bool = False, personal: Sequence[str] = ()
    ) -> AdapterError:
        return mapping.error_from_answer(
            answer.status,
            answer.body,
            retry_after=answer.retry_after,
            write=write,
            personal=personal,
        )


def _rows(data: Any) -> list[Any]:
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise _unreadable(write=False)
    return rows


def _declaration(row: Any) -> Declaration:
    try:
        return mapping.declaration_from_legacy(row)
    except mapping.LegacyFormatError as exc:
        raise _unreadable(write=False, field=exc.field) from None


def _unreadable(*, write: bool, field: str | None = None) -> Unavailable:
    """The system answered outside its contract. Retrying may help (a proxy's
    page in place of the answer); for a write the outcome is unknown."""
    where = f" ({mapping.unified_field(field) or 'a field'})" if field else ""
    return Unavailable(SYSTEM, f"unreadable answer{where}", outcome_unknown=write)
