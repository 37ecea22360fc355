"""A unit's list, from a server that writes its ``total`` otherwise than our stand-ins.

The employment and unemployment contracts give the per-unit list as ``{total,
rows}`` without saying how ``total`` is typed: a server may write the count as a
number or as a string of digits, and the adapters read both. Anything else is no
count (negative, fractional, a flag, other digits than ASCII) and reads as an
answer outside the contract.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.standin.process import RunningStandin
from gateway.domain.model import EmployerProfile
from gateway.systems import Unavailable
from tests import factories
from tests.adapters import drivers
from tests.adapters.servers import forward, serving
from tests.employment.test_adapter import hire
from tests.employment.test_adapter import person as employment_person
from tests.unemployment.test_adapter import a_request

_NOT_THERE = object()


@dataclass
class TotalRewriter:
    """Forwards to the stand-in, writing the list's ``total`` as ``value``."""

    upstream: str
    encoding: str
    where: Callable[[Any], dict[str, Any] | None]  # the object holding "total"
    value: Any = _NOT_THERE

    async def handle(self, request: Request) -> Response:
        answer = await forward(request, self.upstream)
        content = answer.content
        if self.value is not _NOT_THERE and "json" in answer.headers.get("content-type", ""):
            body = json.loads(content.decode(self.encoding))
            holder = self.where(body)
            if holder is not None and "total" in holder:
                holder["total"] = self.value
                content = json.dumps(body, ensure_ascii=False).encode(self.encoding)
        media_type = answer.headers.get("content-type")
        return Response(content, status_code=answer.status_code, media_type=media_type)


def _employment_total(body: Any) -> dict[str, Any] | None:
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, dict) else None


def _unemployment_total(body: Any) -> dict[str, Any] | None:
    return body if isinstance(body, dict) else None


SYSTEMS = {
    "employment": ("employment_standin", "utf-8", _employment_total, drivers._employment),
    "unemployment": ("unemployment_standin", "gbk", _unemployment_total, drivers._unemployment),
}


@pytest.fixture(params=list(SYSTEMS))
def system(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def rewriter(system: str, request: pytest.FixtureRequest) -> Iterator[tuple[TotalRewriter, str]]:
    fixture, encoding, where, _ = SYSTEMS[system]
    standin: RunningStandin = request.getfixturevalue(fixture)
    rewrite = TotalRewriter(standin.url, encoding, where)
    app = Starlette(routes=[Route("/{path:path}", rewrite.handle, methods=["GET", "POST"])])
    with serving(app) as url:
        yield rewrite, url


async def _unit_with_one(system: str, adapter: Any) -> str:
    profile = EmployerProfile(factories.credit_code(), "济南另一服务器有限公司", "370102", "王敏")
    employer_id: str = (await adapter.ensure_employer(profile)).employer_id
    if system == "employment":
        await adapter.register(hire(employer_id, employment_person()))
    else:
        await adapter.register(a_request(employer_id))
    return employer_id


async def test_a_total_written_as_a_string_of_digits_is_read(
    system: str, rewriter: tuple[TotalRewriter, str]
) -> None:
    rewrite, url = rewriter
    adapter = SYSTEMS[system][3](url)
    try:
        employer_id = await _unit_with_one(system, adapter)
        rewrite.value = "1"
        page = await adapter.list_by_employer(employer_id)
        assert (page.total, len(page.items)) == (1, 1)
        rewrite.value = 1  # as our stand-ins write it
        assert (await adapter.list_by_employer(employer_id)).total == 1
    finally:
        await adapter.aclose()


@pytest.mark.parametrize(
    "total", [-1, "-1", 1.5, "1.0", "", " 1", "١", "1" * 5000, True, None, [1]], ids=repr
)
async def test_a_total_that_is_no_count_is_an_answer_outside_the_contract(
    system: str, rewriter: tuple[TotalRewriter, str], total: object
) -> None:
    rewrite, url = rewriter
    adapter = SYSTEMS[system][3](url)
    try:
        employer_id = await _unit_with_one(system, adapter)
        rewrite.value = total
        with pytest.raises(Unavailable) as unreadable:
            await adapter.list_by_employer(employer_id)
        assert unreadable.value.outcome_unknown is False
    finally:
        await adapter.aclose()
