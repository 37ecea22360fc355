"""Which declaration is the step's when its answer was lost, as the agency's clock
and ours differ: ``deciding.find`` against the stand-in over loopback.

A declaration is known by when it was declared (``sbsj``, the agency's clock)
against when the step was created (ours). The contract lets the two clocks
differ by up to 300 s (a signed request is refused beyond that), so a
declaration that much older than its step may be the step's own. One older than
the step is taken only if what the agency's listing carries of it agrees with
the request: an earlier declaration, of a registration before, is not the
step's (a returned one would refuse the step, an approved one of another date
would pass it).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.social_insurance import SocialInsuranceAdapter, deciding
from adapters.social_insurance.model import (
    AdditionRequest,
    DeclarationState,
    RemovalRequest,
)
from adapters.standin.process import RunningStandin
from gateway.decided import Verdict
from gateway.domain.model import IdType
from gateway.systems import Duplicate, Unavailable
from tests.adapters.servers import forward, serving
from tests.social_insurance.test_adapter import (
    a_removal,
    an_addition,
    decided,
    new_employer,
    settings_for,
)


@dataclass
class AgencyClock:
    """Forwards to the stand-in, its declarations' ``sbsj`` moved by ``offset``: the
    agency's clock that much off ours."""

    upstream: str
    offset: dt.timedelta = dt.timedelta(0)

    def _moved(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._moved(v) for v in value]
        if not isinstance(value, dict):
            return value
        moved = {k: self._moved(v) for k, v in value.items()}
        if isinstance(moved.get("sbsj"), str):
            at = dt.datetime.fromisoformat(moved["sbsj"]) + self.offset
            moved["sbsj"] = at.isoformat(timespec="seconds")
        return moved

    async def handle(self, request: Request) -> Response:
        answer = await forward(request, self.upstream)
        content = answer.content
        if "json" in answer.headers.get("content-type", "") and content:
            content = json.dumps(self._moved(json.loads(content)), ensure_ascii=False).encode()
        media_type = answer.headers.get("content-type")
        return Response(content, status_code=answer.status_code, media_type=media_type)


@pytest.fixture
def agency(social_insurance_standin: RunningStandin) -> Iterator[tuple[AgencyClock, str]]:
    clock = AgencyClock(social_insurance_standin.url)
    app = Starlette(routes=[Route("/{path:path}", clock.handle, methods=["GET", "POST"])])
    with serving(app) as url:
        yield clock, url


@pytest.fixture
async def make_adapter(
    social_insurance_standin: RunningStandin,
) -> AsyncIterator[Callable[..., SocialInsuranceAdapter]]:
    made: list[SocialInsuranceAdapter] = []

    def make(url: str | None = None, **changes: Any) -> SocialInsuranceAdapter:
        settings = settings_for(url or social_insurance_standin.url, **changes)
        made.append(SocialInsuranceAdapter.from_settings(settings))
        return made[-1]

    yield make
    for adapter in made:
        await adapter.aclose()


def _in(seconds: float) -> dt.datetime:
    """Our clock, ``seconds`` from now: when the step was created."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)


# ---------------------------------------------------------- the agency behind


@pytest.mark.parametrize("review_delay_s", [600, 0], ids=["under_review", "approved"])
async def test_a_lost_answer_is_found_when_the_agencys_clock_is_three_minutes_behind(
    make_adapter: Callable[..., SocialInsuranceAdapter],
    social_insurance_standin: RunningStandin,
    agency: tuple[AgencyClock, str],
    review_delay_s: float,
) -> None:
    clock, url = agency
    clock.offset = -dt.timedelta(minutes=3)
    social_insurance_standin.faults(review_delay_s=review_delay_s)
    direct, behind = make_adapter(timeout=0.5), make_adapter(url=url)
    request = an_addition(await new_employer(direct))
    since = _in(0)  # the step is created, then sends
    social_insurance_standin.faults(commit_then_drop=1.0)
    with pytest.raises(Unavailable) as lost:
        await direct.declare_addition(request)
    assert lost.value.outcome_unknown is True
    social_insurance_standin.faults(commit_then_drop=0.0)

    found = await deciding.find(behind, request, since)
    assert found is not None  # the step's own: not declared a second time
    [declared] = await behind.find_declarations(
        request.employer_id, IdType.RESIDENT_ID, request.person.id_number
    )
    assert found.reference == declared.reference
    assert found.verdict is (Verdict.PENDING if review_delay_s else Verdict.APPROVED)
    if review_delay_s:
        # Were it sent again, the agency refuses it: what it holds is still found.
        with pytest.raises(Duplicate):
            await behind.declare_addition(request)
        again = await deciding.find(behind, request, since)
        assert again is not None
        assert again.reference == declared.reference


# ------------------------------------------------------ an earlier declaration


async def _earlier_addition(
    adapter: SocialInsuranceAdapter, standin: RunningStandin, state: DeclarationState
) -> AdditionRequest:
    """An addition declared now, as a registration before the step's did, and decided so."""
    returned, withdrawn = DeclarationState.RETURNED, DeclarationState.WITHDRAWN
    standin.faults(
        review_delay_s=600 if state is withdrawn else 0,
        return_rate=1.0 if state is returned else 0,
    )
    request = an_addition(await new_employer(adapter))
    reference = await adapter.declare_addition(request)
    if state is DeclarationState.WITHDRAWN:
        await adapter.withdraw(reference)
    assert (await decided(adapter, reference)).state is state
    standin.faults(return_rate=0)
    return request


@pytest.mark.parametrize("after_s", [60, 200])
@pytest.mark.parametrize("state", [DeclarationState.RETURNED, DeclarationState.WITHDRAWN])
async def test_an_earlier_declaration_returned_or_withdrawn_is_not_the_steps(
    make_adapter: Callable[..., SocialInsuranceAdapter],
    social_insurance_standin: RunningStandin,
    state: DeclarationState,
    after_s: float,
) -> None:
    adapter = make_adapter()
    request = await _earlier_addition(adapter, social_insurance_standin, state)
    # A step created a minute or more later, for the same worker and unit: the
    # earlier one, within the clocks' tolerance, says nothing of this request.
    assert await deciding.find(adapter, request, _in(after_s)) is None


@pytest.mark.parametrize("after_s", [60, 200])
async def test_an_earlier_approved_addition_is_the_steps_only_from_the_same_date(
    make_adapter: Callable[..., SocialInsuranceAdapter],
    social_insurance_standin: RunningStandin,
    after_s: float,
) -> None:
    adapter = make_adapter()
    request = await _earlier_addition(adapter, social_insurance_standin, DeclarationState.APPROVED)
    other_day = replace(request, start_date=request.start_date - dt.timedelta(days=1))
    assert await deciding.find(adapter, other_day, _in(after_s)) is None
    same = await deciding.find(adapter, request, _in(after_s))  # insured from its cbrq
    assert same is not None
    assert same.verdict is Verdict.APPROVED


@pytest.mark.parametrize("after_s", [60, 200])
async def test_an_earlier_approved_removal_is_the_steps_only_from_the_same_date(
    make_adapter: Callable[..., SocialInsuranceAdapter],
    social_insurance_standin: RunningStandin,
    after_s: float,
) -> None:
    adapter = make_adapter()
    addition = await _earlier_addition(adapter, social_insurance_standin, DeclarationState.APPROVED)
    removal = a_removal(addition)
    reference = await adapter.declare_removal(removal)
    assert (await decided(adapter, reference)).state is DeclarationState.APPROVED
    other_day: RemovalRequest = replace(removal, stop_date=removal.stop_date + dt.timedelta(days=1))
    assert await deciding.find(adapter, other_day, _in(after_s)) is None
    same = await deciding.find(adapter, removal, _in(after_s))  # stopped from its tbrq
    assert same is not None
    assert (same.reference, same.verdict) == (reference, Verdict.APPROVED)


async def test_a_declaration_made_after_the_step_was_created_is_the_steps_returned_or_not(
    make_adapter: Callable[..., SocialInsuranceAdapter],
    social_insurance_standin: RunningStandin,
) -> None:
    adapter = make_adapter()
    since = _in(-1)
    request = await _earlier_addition(adapter, social_insurance_standin, DeclarationState.RETURNED)
    found = await deciding.find(adapter, request, since)
    assert found is not None
    assert found.verdict is Verdict.REFUSED  # the agency returned the step's own


def test_the_tolerance_is_the_contracts() -> None:
    assert dt.timedelta(seconds=300) <= deciding.SIGNATURE_WINDOW
