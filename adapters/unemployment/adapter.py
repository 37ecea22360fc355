"""The unemployment system (失业登记) as the gateway sees it: ``UnemploymentAdapter``.

It satisfies ``gateway.systems.UnemploymentSystem``: unified model in, unified
model and the gateway's error taxonomy out. The system's own names, codes and
GBK encoding stay in ``client.py`` and ``mapping.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from adapters.http import bind_existing, tls_context, untyped_count
from adapters.unemployment import mapping
from adapters.unemployment.client import Answer, UnemploymentClient
from gateway.domain.model import (
    EmployerBinding,
    EmployerProfile,
    Page,
    System,
    UnemploymentRegistration,
    UnemploymentRequest,
    UnemploymentState,
)
from gateway.settings import SystemSettings
from gateway.systems import AdapterError, Duplicate, Rejected, Unavailable

__all__ = ["PAGE_LIMIT", "UnemploymentAdapter"]

#: The largest page the system serves (``pageSize``).
PAGE_LIMIT = 20

# The contract has no health check. No unit has an all-zero credit code (no
# registration authority is numbered 0), so looking it up costs the system one
# read, changes nothing, and proves that it answers and accepts our account.
_PING_CODE = "0" * 18


class UnemploymentAdapter:
    """失业: employer registration and unemployment registration of workers."""

    system = System.UNEMPLOYMENT

    def __init__(
        self, settings: SystemSettings, client: httpx.AsyncClient, *, owns_client: bool
    ) -> None:
        self._settings = settings
        self._http = client
        self._owns_client = owns_client
        self._client = UnemploymentClient(settings, client)

    @classmethod
    def from_settings(
        cls, settings: SystemSettings, *, client: httpx.AsyncClient | None = None
    ) -> UnemploymentAdapter:
        """Build the adapter; a client passed in stays the caller's to close."""
        if client is not None:
            return cls(settings, client, owns_client=False)
        return cls(settings, httpx.AsyncClient(verify=tls_context()), owns_client=True)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._http.aclose()

    # ------------------------------------------------------------ employers

    async def find_employer(self, credit_code: str) -> EmployerBinding | None:
        answer = await self._client.call("GET", "/dw/" + quote(credit_code, safe=""))
        if answer.status == 404 and _errcode(answer) == 40401:
            return None
        return self._binding(self._unit(answer), created=False)

    async def ensure_employer(self, profile: EmployerProfile) -> EmployerBinding:
        answer = await self._client.call(
            "POST", "/dw", body=mapping.employer_to_legacy(profile), write=True
        )
        if answer.ok:
            dwbh = answer.body.get("dwbh") if isinstance(answer.body, dict) else None
            if not isinstance(dwbh, str) or not dwbh:
                raise _unreadable(write=True)
            return EmployerBinding(self.system, dwbh, profile, created=True)
        error = mapping.error_from_answer(answer.status, answer.body, write=True)
        if not isinstance(error, Duplicate) or error.system_code != "40901":
            raise error
        return await bind_existing(self, profile, error)

    async def ping(self) -> None:
        answer = await self._client.call("GET", "/dw/" + _PING_CODE)
        # Any business answer proves it: the unit, 40401, or the code refused as
        # invalid (40001: a system may check a look-up's input). Not a refusal of
        # our account (401), its trouble (5xx), nor a page without an errcode.
        if answer.ok or (
            400 <= answer.status < 500 and answer.status != 401 and _errcode(answer) is not None
        ):
            return
        raise mapping.error_from_answer(answer.status, answer.body, retry_after=answer.retry_after)

    # -------------------------------------------------------- registrations

    async def register(self, request: UnemploymentRequest) -> str:
        body = mapping.registration_to_legacy(request)
        answer = await self._client.call("POST", "/djxx", body=body, write=True)
        if answer.ok:
            djbh = answer.body.get("djbh") if isinstance(answer.body, dict) else None
            if not isinstance(djbh, str) or not djbh:
                raise _unreadable(write=True)
            return djbh
        error = self._error(answer, write=True, body=body)
        if isinstance(error, Duplicate) and error.system_code == "40902":
            error.existing_reference = await self._active_reference(request.person.id_number)
        raise error

    async def cancel(self, reference: str) -> None:
        answer = await self._client.call(
            "POST", f"/djxx/{quote(reference, safe='')}/zx", body={}, write=True
        )
        if not answer.ok:
            raise self._error(answer, write=True)

    async def query_person(self, id_number: str) -> list[UnemploymentRegistration]:
        answer = await self._client.call("GET", "/djxx", params={"zjhm": id_number})
        if not answer.ok:
            raise self._error(answer, personal=(id_number,))
        return _rows(answer.body)

    async def query(self, id_numbers: Sequence[str]) -> list[UnemploymentRegistration]:
        """One call per distinct person, at most ``max_in_flight`` at once (the
        client's bound), results in the order the people were asked for."""
        people = list(dict.fromkeys(id_numbers))
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self.query_person(n)) for n in people]
        except ExceptionGroup as failures:
            # The first failure says what went wrong; the rest were cancelled.
            raise failures.exceptions[0] from None
        return [record for task in tasks for record in task.result()]

    async def list_by_employer(
        self, employer_id: str, *, page: int = 1, size: int = PAGE_LIMIT
    ) -> Page[UnemploymentRegistration]:
        """A page of any size, read from the system in pages of at most 20."""
        if page < 1:
            raise Rejected(self.system, "page must be at least 1", field="page")
        if size < 1:
            raise Rejected(self.system, "size must be at least 1", field="size")
        start = (page - 1) * size
        items: list[UnemploymentRegistration] = []
        legacy_page = start // PAGE_LIMIT + 1
        skip = start % PAGE_LIMIT
        total = 0
        while True:
            answer = await self._client.call(
                "GET",
                "/djxx",
                params={"dwbh": employer_id, "pageNo": legacy_page, "pageSize": PAGE_LIMIT},
            )
            if not answer.ok:
                raise self._error(answer)
            body = answer.body
            count = untyped_count(body.get("total")) if isinstance(body, dict) else None
            if count is None:
                raise _unreadable(write=False)
            total = count
            rows = _rows(body)
            items.extend(rows[skip:])
            skip = 0
            if len(items) >= size or len(rows) < PAGE_LIMIT or legacy_page * PAGE_LIMIT >= total:
                break
            legacy_page += 1
        return Page(items=items[:size], total=total)

    # -------------------------------------------------------------- helpers

    async def _active_reference(self, id_number: str) -> str | None:
        """The registration that made the system say "duplicate", when a query finds it."""
        try:
            records = await self.query_person(id_number)
        except (Unavailable, Rejected):
            return None
        return next((r.reference for r in records if r.state is UnemploymentState.REGISTERED), None)

    def _unit(self, answer: Answer) -> dict[str, Any]:
        if not answer.ok:
            raise self._error(answer)
        if not isinstance(answer.body, dict):
            raise _unreadable(write=False)
        return answer.body

    def _binding(self, unit: dict[str, Any], *, created: bool) -> EmployerBinding:
        try:
            dwbh, profile = mapping.employer_from_legacy(unit)
        except mapping.LegacyFormatError as exc:
            raise _unreadable(write=False, field=exc.field) from None
        return EmployerBinding(self.system, dwbh, profile, created=created)

    def _error(
        self,
        answer: Answer,
        *,
        write: bool = False,
        body: dict[str, str | None] | None = None,
        personal: Sequence[str] = (),
    ) -> AdapterError:
        values = list(personal)
        if body is not None:
            values += [v for k in mapping.PERSONAL_FIELDS if (v := body.get(k))]
        return mapping.error_from_answer(
            answer.status,
            answer.body,
            retry_after=answer.retry_after,
            write=write,
            personal=values,
        )


def _errcode(answer: Answer) -> int | None:
    code = answer.body.get("errcode") if isinstance(answer.body, dict) else None
    return code if isinstance(code, int) else None


def _rows(body: Any) -> list[UnemploymentRegistration]:
    rows = body.get("rows") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise _unreadable(write=False)
    try:
        return [mapping.registration_from_legacy(row) for row in rows]
    except mapping.LegacyFormatError as exc:
        raise _unreadable(write=False, field=exc.field) from None
    except AttributeError:  # a row that is not an object
        raise _unreadable(write=False) from None


def _unreadable(*, write: bool, field: str | None = None) -> Unavailable:
    """The system answered outside its contract. Retrying may help (a proxy
    page in place of the answer); for a write the outcome is unknown."""
    where = f" ({mapping.unified_field(field) or 'a field'})" if field else ""
    return Unavailable(System.UNEMPLOYMENT, f"unreadable answer{where}", outcome_unknown=write)
