"""The employment system (就业) as the gateway sees it: ``EmploymentAdapter``.

It satisfies ``gateway.systems.EmploymentSystem``: unified model in, unified
model out, and the gateway's four errors. ``client.py`` does the HTTP,
``mapping.py`` the translation, ``standin.py`` simulates the system itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import httpx

from adapters.employment import mapping
from adapters.employment.client import EmploymentClient, Envelope
from adapters.http import tls_context, untyped_count
from gateway.domain.model import (
    DismissalRequest,
    EmployerBinding,
    EmployerProfile,
    EmploymentRecord,
    EmploymentRegistrationRequest,
    EmploymentState,
    Page,
    System,
)
from gateway.settings import SystemSettings
from gateway.systems import Rejected, Unavailable

__all__ = ["QUERY_CHUNK", "EmploymentAdapter"]

#: The most ID numbers one ``/employment/query`` takes.
QUERY_CHUNK = 50
#: The largest page ``/employment/list`` serves.
MAX_PAGE_SIZE = 100


T = TypeVar("T")
R = TypeVar("R")


class EmploymentAdapter:
    """The gateway's view of the employment system."""

    system: System = System.EMPLOYMENT

    def __init__(
        self,
        client: EmploymentClient,
        *,
        max_in_flight: int = 8,
        owned: httpx.AsyncClient | None = None,
    ) -> None:
        self._client = client
        self._max_in_flight = max(1, max_in_flight)
        self._owned = owned

    @classmethod
    def from_settings(
        cls, settings: SystemSettings, *, client: httpx.AsyncClient | None = None
    ) -> EmploymentAdapter:
        """Build on ``client`` if given (the caller closes it), else on a client of its own."""
        owned = None
        if client is None:
            client = owned = httpx.AsyncClient(verify=tls_context())
        return cls(
            EmploymentClient(settings, client),
            max_in_flight=settings.max_in_flight,
            owned=owned,
        )

    async def aclose(self) -> None:
        if self._owned is not None:
            await self._owned.aclose()

    # ------------------------------------------------------------ employers

    async def find_employer(self, credit_code: str) -> EmployerBinding | None:
        answer = await self._client.get("unit.get", "/unit", {"aab998": credit_code})
        if answer.code == mapping.UNIT_NOT_FOUND:
            return None
        return _read(mapping.employer_from_legacy, _data(answer, "unit.get", dict))

    async def ensure_employer(self, profile: EmployerProfile) -> EmployerBinding:
        body = _write_body(mapping.employer_to_legacy, profile)
        answer = await self._client.post("unit.open", "/unit/open", body, write=True)
        if answer.ok or answer.code == mapping.UNIT_ALREADY_OPEN:
            data = answer.data if isinstance(answer.data, dict) else {}
            employer_id = data.get("aab001")
            if isinstance(employer_id, str) and employer_id:
                return EmployerBinding(self.system, employer_id, profile, created=answer.ok)
            if answer.ok:
                raise _unreadable("unit.open", write=True)
            # "Already open" without the number: look it up.
            found = await self.find_employer(profile.credit_code)
            if found is not None:
                return found
        raise mapping.business_error(answer.code, answer.msg, answer.data, "unit.open")

    async def ping(self) -> None:
        # The system has no health check; looking up a unit that cannot exist
        # costs it one indexed read, and any envelope means it is answering.
        answer = await self._client.get("unit.get", "/unit", {"aab998": "0" * 18})
        if answer.code == mapping.BAD_CREDENTIALS:
            raise mapping.business_error(answer.code, answer.msg, answer.data, "unit.get")

    # ------------------------------------------------------------ employment

    async def register(self, request: EmploymentRegistrationRequest) -> str:
        body = _write_body(mapping.registration_to_legacy, request)
        answer = await self._client.post(
            "employment.register", "/employment/register", body, write=True
        )
        return _serial(answer, "employment.register")

    async def dismiss(self, request: DismissalRequest) -> str:
        body = _write_body(mapping.dismissal_to_legacy, request)
        answer = await self._client.post(
            "employment.dismiss", "/employment/dismiss", body, write=True
        )
        return _serial(answer, "employment.dismiss")

    async def revoke(self, reference: str) -> None:
        answer = await self._client.post(
            "employment.revoke", "/employment/revoke", {"ywlsh": reference}, write=True
        )
        _data(answer, "employment.revoke", object)

    async def query(
        self, id_numbers: Sequence[str], employer_id: str | None = None
    ) -> list[EmploymentRecord]:
        """Every record of these people, newest first per person: one call per 50
        numbers, at most ``max_in_flight`` of them at once."""
        unique = list(dict.fromkeys(id_numbers))
        if not unique:
            return []
        chunks = [unique[i : i + QUERY_CHUNK] for i in range(0, len(unique), QUERY_CHUNK)]
        gate = asyncio.Semaphore(self._max_in_flight)

        async def one(chunk: list[str]) -> list[EmploymentRecord]:
            body: dict[str, Any] = {"aac147_list": chunk}
            if employer_id is not None:
                body["aab001"] = employer_id
            async with gate:
                answer = await self._client.post(
                    "employment.query", "/employment/query", body, write=False
                )
            rows = _data(answer, "employment.query", list)
            return [_read(mapping.record_from_legacy, _row(r, "employment.query")) for r in rows]

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(chunk)) for chunk in chunks]
        except ExceptionGroup as failures:
            # The first failure stands for all: the others are usually the same.
            raise failures.exceptions[0] from None
        return [record for task in tasks for record in task.result()]

    async def list_by_employer(
        self,
        employer_id: str,
        *,
        state: EmploymentState | None = None,
        page: int = 1,
        size: int = 100,
    ) -> Page[EmploymentRecord]:
        if page < 1:
            raise ValueError("page counts from 1")
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise ValueError(f"size must be between 1 and {MAX_PAGE_SIZE}")
        params: dict[str, str | int] = {"aab001": employer_id, "page": page, "size": size}
        if state is not None:
            params["zt"] = mapping.state_to_legacy(state)
        answer = await self._client.get("employment.list", "/employment/list", params)
        data = _data(answer, "employment.list", dict)
        rows, total = data.get("rows"), untyped_count(data.get("total"))
        if not isinstance(rows, list) or total is None:
            raise _unreadable("employment.list", write=False)
        items = [_read(mapping.record_from_legacy, _row(r, "employment.list")) for r in rows]
        return Page(items=items, total=total)


# ---------------------------------------------------------------- helpers


def _data(answer: Envelope, operation: str, kind: type[T]) -> T:
    """The answer's data, or the unified error for its business code."""
    if not answer.ok:
        raise mapping.business_error(answer.code, answer.msg, answer.data, operation)
    if kind is not object and not isinstance(answer.data, kind):
        raise _unreadable(operation, write=False)
    data: T = answer.data
    return data


def _serial(answer: Envelope, operation: str) -> str:
    """The ``ywlsh`` a write answers with."""
    if not answer.ok:
        raise mapping.business_error(answer.code, answer.msg, answer.data, operation)
    serial = answer.data.get("ywlsh") if isinstance(answer.data, dict) else None
    if not isinstance(serial, str) or not serial:
        # It said yes but not what it made: only a query tells what is there.
        raise _unreadable(operation, write=True)
    return serial


def _row(row: Any, operation: str) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise _unreadable(operation, write=False)
    return row


def _unreadable(operation: str, *, write: bool) -> Unavailable:
    return Unavailable(
        mapping.SYSTEM,
        f"{operation}: the answer does not have the documented shape",
        outcome_unknown=write,
    )


def _write_body(convert: Callable[[T], dict[str, Any]], value: T) -> dict[str, Any]:
    """Translate a write before sending it; what cannot be translated is refused here."""
    try:
        return convert(value)
    except mapping.MappingError as exc:
        raise Rejected(mapping.SYSTEM, f"{exc.field}: {exc}", field=exc.field) from None


def _read(convert: Callable[[T], R], value: T) -> R:
    """Translate what the system answered; a value the gateway has no code for is
    the system's doing, and retrying will not change it."""
    try:
        return convert(value)
    except mapping.MappingError as exc:
        raise Rejected(
            mapping.SYSTEM, f"the system answered with an unreadable {exc.field}", field=exc.field
        ) from None
